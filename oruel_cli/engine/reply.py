"""A finished reply, whoever produced it (the local engine or a remote server),
and the checks made on it: tool calls parsed, JSON and its schema checked.

Kept apart from the engine so a remote backend builds the same Completion
without importing llama.cpp.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from ..params.model import GenerationParams


@dataclass
class Completion:
    """One finished reply, with what a user should be warned about."""

    id: str
    model: str
    content: str | None
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    first_token_seconds: float | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    schema_error: str | None = None  # a json_schema violation (an error in a batch)
    error: str | None = None  # finish_reason "error": the generation failed inside llama.cpp
    cached_tokens: int = 0  # prompt tokens whose KV was reused
    logprobs: list[dict[str, Any]] | None = None  # OpenAI's logprobs.content, when asked
    # The context's size when its end, not max_tokens, cut the reply: OpenAI has
    # one `length` for both, so only the stats line says which (to_openai does not).
    context_full: int | None = None
    # The thinking, split from the answer where the model marks it (None: the
    # model did not think, or does not mark it), and the tokens it took.
    reasoning_content: str | None = None
    reasoning_tokens: int = 0
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def tokens_per_second(self) -> float:
        """Decode speed: tokens after the first over the time after the first, as
        llama.cpp's own tools count it (the first token comes from the prompt pass)."""
        decode = self.seconds - (self.first_token_seconds or 0.0)
        if self.completion_tokens > 1 and decode > 0:
            return (self.completion_tokens - 1) / decode
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def finish_shown(self) -> str:
        """The finish reason as the stats line says it: 'length (context full: 64 tokens)'."""
        if self.finish_reason == "length" and self.context_full:
            return f"length (context full: {self.context_full} tokens)"
        return self.finish_reason

    @property
    def cut_by(self) -> str:
        """What ended a `length` reply, in a warning's words."""
        return "the context's end" if self.context_full else "max_tokens"

    @property
    def prompt_seconds(self) -> float:
        return self.first_token_seconds or 0.0

    def usage(self) -> dict[str, Any]:
        """OpenAI's usage; `completion_tokens` counts thinking and answer together,
        and its details say how many were thinking, where there was any."""
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }
        if self.reasoning_content is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return usage

    def logprobs_object(self) -> dict[str, Any] | None:
        """OpenAI's choices[].logprobs: null unless the request asked."""
        if self.logprobs is None:
            return None
        return {"content": self.logprobs, "refusal": None}

    def to_openai(self) -> dict[str, Any]:
        """OpenAI's chat.completion object."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.reasoning_content is not None:  # as llama-server and vLLM name it
            message["reasoning_content"] = self.reasoning_content
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": self.finish_reason,
                    "logprobs": self.logprobs_object(),
                }
            ],  # fmt: skip
            "usage": self.usage(),
        }


def json_warning(
    messages: list[dict[str, Any]], params: GenerationParams, system: str | None = None
) -> str | None:
    """The reference: JSON mode also needs the prompt (or system prompt) to ask for JSON."""
    if params.response_kind != "json_object":
        return None
    texts = [str(m.get("content") or "") for m in messages] + [system or ""]
    if any("json" in t.lower() for t in texts):
        return None
    return "response_format json_object is set but no message mentions JSON; say so in the prompt"


def extract_tool_calls(comp: Completion, params: GenerationParams, fmt: Any = None) -> None:
    """Calls written in the reply's text, in the model's format (`fmt`, a
    ToolFormat; oruel's own `<tool_call>` syntax when None), as OpenAI's
    `tool_calls`; the text around them stays content."""
    from ..formats.calls.detect import FALLBACK

    apply_calls(comp, params, (fmt or FALLBACK).parse(comp.content or ""))


def apply_calls(comp: Completion, params: GenerationParams, parsed: Any) -> None:
    """A reply read for calls (a `Parsed`): each call checked against its tool,
    finish `tool_calls`; a call opened and broken keeps the whole text as
    content, finish as it was, with one warning."""
    if parsed.broken:
        if comp.finish_reason == "length":
            comp.warnings.append(f"{comp.cut_by} cut the tool call short")
        else:
            comp.warnings.append(
                "the model opened a tool call and did not finish it as its format requires; "
                "its text is kept as content"
            )
        return
    if not parsed.calls:
        return
    by_name = {t["function"]["name"]: t["function"] for t in params.tools or []}
    for call in parsed.calls:
        schema = (by_name.get(call.name) or {}).get("parameters")
        if call.name not in by_name:
            comp.warnings.append(f"the model called an unknown tool {call.name!r}")
        elif schema and (err := schema_error(call.arguments, schema)):
            comp.warnings.append(
                f"tool call {call.name}: arguments do not follow the schema: {err}"
            )
    comp.content = parsed.content or None
    comp.tool_calls = [call.openai() for call in parsed.calls]
    comp.finish_reason = "tool_calls"


def check_json(comp: Completion, params: GenerationParams, fmt: str) -> None:
    try:
        value = json.loads(comp.content or "")
    except json.JSONDecodeError:
        if comp.finish_reason == "length":
            comp.warnings.append(f"{comp.cut_by} cut the JSON short: the output does not parse")
        else:
            comp.warnings.append("the output does not parse as JSON")
        return
    if fmt == "json_schema":
        schema = params.response_format["json_schema"]["schema"]  # type: ignore[index]
        if err := schema_error(value, schema):
            comp.schema_error = f"the output does not follow the JSON Schema: {err}"
            comp.warnings.append(comp.schema_error)


def schema_error(value: Any, schema: dict[str, Any]) -> str | None:
    import jsonschema

    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as e:
        return e.message
    return None
