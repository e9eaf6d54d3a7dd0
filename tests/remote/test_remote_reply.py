"""A remote reply put together from OpenAI's own types (as the client parses a
server's answer), into the Completion the local engine gives. No server."""

from __future__ import annotations

import json
import time

from openai.types.chat import ChatCompletion, ChatCompletionChunk

from oruel_cli.backends.remote_reply import StreamReply, completion_from_response, finalize
from oruel_cli.engine.reply import Completion
from oruel_cli.params.model import GenerationParams

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def chunk(delta: dict | None = None, finish: str | None = None, usage: dict | None = None, **extra):  # noqa: ANN201
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return ChatCompletionChunk.model_validate(
        {"id": "chatcmpl-r", "object": "chat.completion.chunk", "created": 1, "model": "srv",
         "choices": choices, "usage": usage, **extra}
    )  # fmt: skip


def test_text_chunks_usage_and_timings_make_the_completion():
    reply = StreamReply("asked", time.perf_counter())
    texts = [
        reply.add(chunk({"role": "assistant", "content": ""})),
        reply.add(chunk({"content": "Hello"})),
        reply.add(chunk({"content": ", world"}, finish="length")),
        reply.add(
            chunk(
                usage={"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11,
                       "prompt_tokens_details": {"cached_tokens": 4}},
                timings={"cache_n": 4},
            )
        ),
    ]  # fmt: skip
    assert texts == ["", "Hello", ", world", ""]
    comp = reply.completion()
    assert (comp.id, comp.model, comp.content, comp.finish_reason) == (
        "chatcmpl-r", "srv", "Hello, world", "length",
    )  # fmt: skip
    assert (comp.prompt_tokens, comp.completion_tokens, comp.cached_tokens) == (9, 2, 4)
    assert comp.first_token_seconds is not None and comp.seconds >= comp.first_token_seconds
    assert comp.to_openai()["usage"] == {
        "prompt_tokens": 9,
        "completion_tokens": 2,
        "total_tokens": 11,
    }


def test_without_usage_the_text_chunks_are_counted():
    reply = StreamReply("m", time.perf_counter())
    for t in ("a", "b", "c"):
        reply.add(chunk({"content": t}))
    comp = reply.completion(finish_reason="cancelled")
    assert (comp.completion_tokens, comp.finish_reason, comp.content) == (3, "cancelled", "abc")


def test_streamed_tool_calls_are_joined_and_checked():
    reply = StreamReply("m", time.perf_counter())
    reply.add(chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                      "function": {"name": "get_weather", "arguments": ""}}]}))  # fmt: skip
    reply.add(chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}))
    reply.add(chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}))
    reply.add(chunk({}, finish="tool_calls"))
    params = GenerationParams(tools=TOOLS, tool_choice="auto")
    comp = finalize(reply.completion(), params)
    assert comp.content is None and comp.finish_reason == "tool_calls" and not comp.warnings
    (call,) = comp.tool_calls
    assert call["id"] == "call_1" and json.loads(call["function"]["arguments"]) == {"city": "Paris"}


def test_tool_calls_left_in_the_text_are_parsed_as_the_local_engine_does():
    comp = Completion(
        id="c", model="m", content='<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>',
        finish_reason="stop", prompt_tokens=1, completion_tokens=1, seconds=0.1,
    )  # fmt: skip
    comp = finalize(comp, GenerationParams(tools=TOOLS, tool_choice="required"))
    assert comp.finish_reason == "tool_calls" and comp.tool_calls
    assert any("schema" in w for w in comp.warnings)  # city is required


def test_a_whole_response_and_its_schema_check():
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 3}}}
    params = GenerationParams(
        response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}
    )
    resp = ChatCompletion.model_validate(
        {"id": "chatcmpl-w", "object": "chat.completion", "created": 1, "model": "srv",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": '{"n": 7}'},
                      "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}}
    )  # fmt: skip
    comp = completion_from_response(resp, "asked", params, 0.5)
    assert comp.content == '{"n": 7}' and comp.completion_tokens == 4 and comp.model == "srv"
    assert comp.schema_error and "maximum" in comp.schema_error


def test_a_reply_that_came_in_one_burst_has_no_time_to_first_token():
    reply = StreamReply("m", time.perf_counter() - 2.0)  # asked 2 s ago
    reply.add(chunk({"content": "all of it at once"}, finish="stop"))
    reply.add(chunk(usage={"prompt_tokens": 5, "completion_tokens": 10, "total_tokens": 15}))
    comp = reply.completion()
    assert comp.first_token_seconds is None  # it says nothing of the decode speed
    assert 4.0 <= comp.tokens_per_second <= 5.0  # taken over the whole time


def test_chat_stats_line_of_a_remote_reply():
    from oruel_cli.chat.repl import stats_line

    comp = Completion(
        id="c", model="m", content="x", finish_reason="tool_calls", prompt_tokens=20,
        completion_tokens=10, seconds=2.0,
    )  # fmt: skip
    assert stats_line(comp, None) == (
        "10 tokens · 4.5 tok/s · sent whole · prompt 20 new + 0 cached · finish: tool_calls"
    )  # no context part: a remote server's context is not known here


def test_a_servers_thinking_is_kept_apart_from_the_answer():
    """llama-server and vLLM send thinking as delta.reasoning_content (newer vLLM
    as delta.reasoning); it is not the answer, and comes apart chunk by chunk."""
    reply = StreamReply("m", time.perf_counter())
    seen = []
    for delta in ({"reasoning_content": "Two and "}, {"reasoning": "two. "}, {"content": "4"}):
        text = reply.add(chunk(delta))
        seen.append((reply.thought, text))
    reply.add(chunk(usage={"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8,
                           "completion_tokens_details": {"reasoning_tokens": 2}}))  # fmt: skip
    assert seen == [("Two and ", ""), ("two. ", ""), ("", "4")]
    comp = reply.completion()
    assert (comp.content, comp.reasoning_content, comp.reasoning_tokens) == (
        "4",
        "Two and two. ",
        2,
    )
    assert comp.to_openai()["choices"][0]["message"]["reasoning_content"] == "Two and two. "
    plain = StreamReply("m", time.perf_counter())
    plain.add(chunk({"content": "4"}))
    assert plain.completion().reasoning_content is None  # no thinking: no field


def test_a_whole_response_keeps_the_servers_thinking():
    resp = ChatCompletion.model_validate(
        {"id": "chatcmpl-t", "object": "chat.completion", "created": 1, "model": "srv",
         "choices": [{"index": 0, "finish_reason": "stop", "message": {
             "role": "assistant", "content": "4", "reasoning_content": "Two and two."}}],
         "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9,
                   "completion_tokens_details": {"reasoning_tokens": 3}}}
    )  # fmt: skip
    comp = completion_from_response(resp, "asked", GenerationParams(), 0.5)
    assert (comp.content, comp.reasoning_content, comp.reasoning_tokens) == ("4", "Two and two.", 3)
