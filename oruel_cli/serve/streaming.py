"""Server-sent events in OpenAI's `chat.completion.chunk` shape.

As OpenAI streams: every chunk carries the same id, `created` and `model`; the
first delta carries the role (and empty content); then the text as it comes;
then a chunk with an empty delta and the `finish_reason`; then, only when
`stream_options.include_usage` asks, a chunk with `choices: []` and the usage
(the chunks before it carry `"usage": null`); then `data: [DONE]`. With
logprobs asked, each text chunk carries the entries of the tokens its text
shows, so the chunks' entries joined are the whole reply's. A model's thinking,
where it marks it, streams as `delta.reasoning_content`, apart from `content`.

A reply that may hold tool calls is sent whole at its end (its text and its
`tool_calls` as one delta each), since a call is only known once parsed. A
generation that fails mid-stream, or a request the server cancels when it
shuts down, ends the stream with an `error` event in OpenAI's error shape
(the openai client raises it) and no `[DONE]`.
"""

from __future__ import annotations

import json
from typing import Any

from ..engine.reply import Completion

DONE = b"data: [DONE]\n\n"


def event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False, allow_nan=False).encode() + b"\n\n"


class ChunkWriter:
    """The chunks of one streamed reply."""

    def __init__(self, request_id: str, model: str, created: int, include_usage: bool) -> None:
        self.id = request_id
        self.model = model
        self.created = created
        self.include_usage = include_usage

    def chunk(
        self,
        delta: dict[str, Any],
        finish_reason: str | None = None,
        logprobs: list[dict[str, Any]] | None = None,
    ) -> bytes:
        lps = {"content": logprobs, "refusal": None} if logprobs else None
        data: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": lps, "finish_reason": finish_reason}
            ],
        }
        if self.include_usage:
            data["usage"] = None
        return event(data)

    def role(self) -> bytes:
        return self.chunk({"role": "assistant", "content": ""})

    def text(
        self, text: str, logprobs: list[dict[str, Any]] | None = None, reasoning: str = ""
    ) -> bytes:
        """A piece of the reply, with the logprobs of the tokens it shows (if asked);
        thinking goes in `delta.reasoning_content`, as llama-server and vLLM send it."""
        delta: dict[str, Any] = {"reasoning_content": reasoning} if reasoning else {}
        if text or not reasoning:
            delta["content"] = text
        return self.chunk(delta, logprobs=logprobs)

    def whole(self, comp: Completion) -> list[bytes]:
        """A buffered reply (tools): its text, then its calls, one delta each."""
        out = []
        if comp.reasoning_content:
            out.append(self.text("", reasoning=comp.reasoning_content))
        if comp.content or comp.logprobs:
            out.append(self.text(comp.content or "", comp.logprobs))
        if comp.tool_calls:
            calls = [dict(call, index=i) for i, call in enumerate(comp.tool_calls)]
            out.append(self.chunk({"tool_calls": calls}))
        return out

    def end(self, comp: Completion) -> list[bytes]:
        """The finish_reason chunk, the usage chunk when asked, then [DONE]."""
        out = [self.chunk({}, comp.finish_reason)]
        if self.include_usage:
            out.append(
                event(
                    {
                        "id": self.id,
                        "object": "chat.completion.chunk",
                        "created": self.created,
                        "model": self.model,
                        "choices": [],
                        "usage": comp.usage(),
                    }
                )
            )
        out.append(DONE)
        return out
