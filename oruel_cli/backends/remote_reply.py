"""A server's reply read into the `Completion` the local engine gives: a
whole response or a stream of chunks, its usage and timings, logprobs and tool
calls, then the checks the engine makes on its own replies (tool calls against
their schemas, JSON mode), so a remote reply fails the way a local one would."""

from __future__ import annotations

import json
import time
from typing import Any

from ..api.ids import completion_id, tool_call_id
from ..engine.reply import Completion, check_json, extract_tool_calls, schema_error
from ..engine.template import TOOL_OPEN
from ..params.model import GenerationParams


def finalize(comp: Completion, params: GenerationParams) -> Completion:
    """The checks the local engine makes on a reply, made on a remote one: tool
    calls (parsed from text if the server left them there), JSON and its schema."""
    if params.tools_active:
        if comp.tool_calls:
            _check_calls(comp, params)
            comp.finish_reason = "tool_calls"
        elif TOOL_OPEN in (comp.content or ""):
            extract_tool_calls(comp, params)
        return comp
    fmt = params.response_kind
    if fmt in ("json_object", "json_schema"):
        check_json(comp, params, fmt)
    return comp


def _check_calls(comp: Completion, params: GenerationParams) -> None:
    by_name = {t["function"]["name"]: t["function"] for t in params.tools or []}
    for call in comp.tool_calls:
        fn = call.get("function") or {}
        name = fn.get("name")
        if name not in by_name:
            comp.warnings.append(f"the model called an unknown tool {name!r}")
            continue
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except json.JSONDecodeError:
            comp.warnings.append(f"tool call {name}: the arguments are not valid JSON")
            continue
        schema = by_name[name].get("parameters")
        if schema and (err := schema_error(args, schema)):
            comp.warnings.append(f"tool call {name}: arguments do not follow the schema: {err}")


class StreamReply:
    """A streamed reply put together chunk by chunk (text, tool calls, usage)."""

    def __init__(self, model: str, started: float) -> None:
        self.id = completion_id()
        self.model = model
        self.started = started
        self.first: float | None = None
        self.parts: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: Any = None
        self.timings: Any = None
        self.chunks = 0  # chunks that carried text: the token count when no usage comes
        self.logprobs: list[dict[str, Any]] = []  # what the server gave, chunk by chunk
        self.thoughts: list[str] = []  # the server's reasoning_content, chunk by chunk
        self.thought = ""  # the thinking the latest chunk carried

    def add(self, chunk: Any) -> str:
        """Take one chunk; the text it adds."""
        if chunk.id:
            self.id = chunk.id
        if chunk.model:
            self.model = chunk.model
        if chunk.usage is not None:
            self.usage = chunk.usage
        extra = chunk.model_extra or {}
        if extra.get("timings") is not None:
            self.timings = extra["timings"]
        text = thought = ""
        for choice in chunk.choices or []:
            delta = choice.delta
            if delta is not None:
                thought += reasoning_of(delta)
                if delta.content:
                    text += delta.content
                for tc in delta.tool_calls or []:
                    self._add_call(tc)
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
            self.logprobs.extend(logprob_items(choice))
        if text or thought or (self.calls and self.first is None):
            if self.first is None:
                self.first = time.perf_counter()
            if text:
                self.parts.append(text)
            if thought:
                self.thoughts.append(thought)
            self.chunks += bool(text or thought)
        self.thought = thought
        return text

    def _add_call(self, tc: Any) -> None:
        call = self.calls.setdefault(
            tc.index or 0,
            {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
        )
        if tc.id:
            call["id"] = tc.id
        fn = tc.function
        if fn is not None:
            if fn.name:
                call["function"]["name"] += fn.name
            if fn.arguments:
                call["function"]["arguments"] += fn.arguments

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def _first_seconds(self, tokens: int) -> float | None:
        """Time to the first text, unless the reply came in one burst (a server that
        sends tool calls whole at the end): then it says nothing of the decode
        speed, which is taken over the whole time instead."""
        if self.first is None or (self.chunks <= 1 and tokens > 1):
            return None
        return self.first - self.started

    def completion(self, finish_reason: str | None = None, error: str | None = None) -> Completion:
        now = time.perf_counter()
        calls = []
        for i in sorted(self.calls):
            call = self.calls[i]
            calls.append({**call, "id": call["id"] or tool_call_id()})
        prompt, completion, cached = usage_numbers(self.usage, self.timings, self.chunks)
        text = self.text
        return Completion(
            reasoning_content="".join(self.thoughts) or None,
            reasoning_tokens=reasoning_tokens(self.usage),
            id=self.id,
            model=self.model,
            content=text if text or not calls else None,
            finish_reason=finish_reason or self.finish_reason or "stop",
            prompt_tokens=prompt,
            completion_tokens=completion,
            seconds=now - self.started,
            first_token_seconds=self._first_seconds(completion),
            tool_calls=calls,
            error=error,
            cached_tokens=cached,
            logprobs=self.logprobs or None,
        )


def logprob_items(choice: Any) -> list[dict[str, Any]]:
    """A choice's logprobs.content as plain dicts (none when the server gave none)."""
    lps = getattr(choice, "logprobs", None)
    return [item.model_dump() for item in (getattr(lps, "content", None) or [])]


def reasoning_of(message: Any) -> str:
    """The thinking a server sent beside the answer: `reasoning_content` (llama-server,
    vLLM, DeepSeek's API, oruel serve) or `reasoning` (newer vLLM, OpenRouter)."""
    extra = getattr(message, "model_extra", None) or {}
    for name in ("reasoning_content", "reasoning"):
        if isinstance(extra.get(name), str):
            return extra[name]
    return ""


def reasoning_tokens(usage: Any) -> int:
    """usage.completion_tokens_details.reasoning_tokens, where the server counts them."""
    details = getattr(usage, "completion_tokens_details", None)
    return int(getattr(details, "reasoning_tokens", 0) or 0)


def usage_numbers(usage: Any, timings: Any = None, counted: int = 0) -> tuple[int, int, int]:
    """Prompt, completion and cached prompt tokens from a usage object (OpenAI's
    prompt_tokens_details.cached_tokens, or llama-server's timings.cache_n)."""
    if usage is None:
        return 0, counted, 0
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    details = getattr(usage, "prompt_tokens_details", None)
    cached = int(getattr(details, "cached_tokens", 0) or 0) if details is not None else 0
    if not cached and isinstance(timings, dict):
        cached = int(timings.get("cache_n") or 0)
    return prompt, completion, cached


def completion_from_response(
    resp: Any, model: str, params: GenerationParams, seconds: float
) -> Completion:
    """A whole (not streamed) chat.completion as a Completion, checked."""
    choice = resp.choices[0] if resp.choices else None
    message = choice.message if choice is not None else None
    calls = [c.model_dump(exclude_none=True) for c in (message.tool_calls or [])] if message else []
    timings = (resp.model_extra or {}).get("timings")
    prompt, completion, cached = usage_numbers(resp.usage, timings)
    comp = Completion(
        reasoning_content=(reasoning_of(message) or None) if message is not None else None,
        reasoning_tokens=reasoning_tokens(resp.usage),
        id=resp.id or completion_id(),
        model=resp.model or model,
        content=message.content if message is not None else None,
        finish_reason=(choice.finish_reason if choice is not None else None) or "stop",
        prompt_tokens=prompt,
        completion_tokens=completion,
        seconds=seconds,
        tool_calls=calls,
        cached_tokens=cached,
        logprobs=(logprob_items(choice) or None) if choice is not None else None,
    )
    return finalize(comp, params)
