"""The engine's Finish -> a chat completion (tool calls parsed, JSON checked)."""

from __future__ import annotations

from ..formats.calls import format_for
from .engine import Finish
from .reply import Completion, apply_calls, check_json


def complete(finish: Finish, model_name: str) -> Completion:
    """The engine's raw Finish -> a Completion: tool calls parsed, structure checked."""
    req, params = finish.request, finish.request.params
    text, reason = finish.text, finish.finish_reason
    comp = Completion(
        id=req.id,
        model=model_name,
        content=text,
        finish_reason=reason,
        prompt_tokens=finish.prompt_tokens,
        completion_tokens=finish.completion_tokens,
        seconds=finish.seconds,
        first_token_seconds=finish.first_token_seconds,
        error=finish.error,
        cached_tokens=finish.cached_tokens,
        logprobs=finish.logprobs,
        context_full=finish.context_full,
        reasoning_content=finish.reasoning,
        reasoning_tokens=finish.reasoning_tokens,
    )
    if finish.error is not None:
        return comp
    reading = req.reading
    if reading is not None and reading.fmt.name == "gpt-oss":  # its channels hold both
        parsed = reading.reader().read(text)
        comp.content, comp.reasoning_content = parsed.content, parsed.reasoning
        if params.tools_active:
            apply_calls(comp, params, parsed)
        return comp
    if params.tools_active:
        fmt = reading.fmt if reading is not None else format_for(None)
        apply_calls(comp, params, fmt.parse(text))
        return comp
    fmt = params.response_kind
    if fmt in ("json_object", "json_schema"):
        check_json(comp, params, fmt)
    return comp
