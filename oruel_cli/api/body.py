"""A chat-completions request body, its shape checked: the OpenAI wire format
as `oruel serve` receives it and a batch line's ``body`` holds it, so the two
accept, ignore and refuse exactly the same fields.

Parameter values are passed on raw (``ChatBody.params``); their types and
ranges are checked later (``params.values``). This module checks the shape:
JSON (no NaN or Infinity), field names, messages (roles and content as the
chat template takes them: role one of system, developer, user, assistant,
tool; content a string, null, or a list of text parts), ``n``, aliases.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ..params.model import PARAM_NAMES

# Fields OpenAI clients commonly send that oruel does not use: accepted, dropped
# (the same list as `oruel serve`).
IGNORED_OPENAI_FIELDS = (
    "user",
    "metadata",
    "store",
    "service_tier",
    "parallel_tool_calls",
    "stream_options",
)
# Other servers' names for a parameter: the value stands for the parameter;
# both given must agree.
PARAM_ALIASES = {
    "max_completion_tokens": "max_tokens",  # OpenAI's newer name
    "repeat_penalty": "repetition_penalty",  # llama-server's name
}
# Fields that would change the reply in ways oruel cannot honour: refused, unless
# the value asks for nothing (the values listed), then accepted and dropped.
REFUSED_OPENAI_FIELDS: dict[str, tuple[tuple[Any, ...], str]] = {
    "functions": ((None,), "the legacy functions field is not supported; use tools"),
    "function_call": ((None,), "the legacy function_call field is not supported; use tool_choice"),
    "modalities": ((None, ["text"]), "a local text model answers in text only"),
    "audio": ((None,), "a local text model answers in text only"),
    "prediction": ((None,), "predicted outputs are not supported"),
}
ROLES = ("system", "developer", "user", "assistant", "tool")

# What a body accepts, in the order a message lists them.
BODY_ALLOWED: tuple[str, ...] = (
    "messages",
    "model",
    "system",
    "preset",
    "chat_template_kwargs",  # keywords for the chat template, as vLLM and llama-server read
    *PARAM_NAMES,
    *PARAM_ALIASES,
    "n",
    *IGNORED_OPENAI_FIELDS,
)
_BODY_ALLOWED_SET = frozenset(BODY_ALLOWED)


@dataclass
class LineError:
    """Why a line cannot run: a code and one sentence (what is wrong, what is allowed).

    Codes from the reader: ``invalid_json``, ``invalid_line``,
    ``unknown_parameter``, ``invalid_parameter`` (``n`` other than 1, both
    ``max_tokens`` and ``max_completion_tokens``), ``duplicate_id``. The runner
    adds ``invalid_parameter``, ``context_length_exceeded``, ``generation_failed``.
    """

    code: str
    message: str


class BadInput(Exception):
    """Raised inside the parser: the line (or, in `oruel serve`, the HTTP request)
    gets this error. `param` names the field at fault, where one is."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.error = LineError(code, message)
        self.param = param


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise ValueError(f"the number {text} is too large")
    return x


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def loads_strict(text: str) -> Any:
    """``json.loads`` that refuses NaN, Infinity and numbers that overflow to them."""
    return _DECODER.decode(text)


@dataclass
class ChatBody:
    """A chat-completions request body, its shape checked; parameter values raw."""

    messages: list[dict[str, Any]]
    params: dict[str, Any]  # by parameter name, aliases folded in
    model: str | None = None
    system: str | None = None
    preset: str | None = None
    ignored: dict[str, Any] = field(default_factory=dict)  # IGNORED_OPENAI_FIELDS given
    aliases: dict[str, str] = field(default_factory=dict)  # parameter -> the alias it came as
    template_kwargs: dict[str, Any] = field(default_factory=dict)  # chat_template_kwargs


def parse_body(body: dict[str, Any], where: str = "") -> ChatBody:
    """Check a chat-completions body: a batch line's ``body`` (form 3) and an
    `oruel serve` request alike, so both accept, ignore and refuse the same
    fields. ``where`` prefixes field names in messages ("body" in a batch).

    Raises BadInput, with ``param`` set to the field at fault."""
    dot = f"{where}." if where else ""
    at = f" in {where}" if where else ""
    for key in body:
        if key in REFUSED_OPENAI_FIELDS:
            _check_refused(key, body[key], dot)
        elif key not in _BODY_ALLOWED_SET:
            raise BadInput(
                "unknown_parameter", unknown_field(key, BODY_ALLOWED, "field", at), param=key
            )
    if "messages" not in body:
        raise BadInput(
            "invalid_line", f"{where or 'the body'} has no messages; it must hold a messages list",
            param="messages",
        )  # fmt: skip
    try:
        messages = check_messages(body["messages"], f"{dot}messages")
    except BadInput as bad:
        bad.param = "messages"
        raise
    n = body.get("n")
    if n is not None and not (type(n) is int and n == 1):
        raise BadInput(
            "invalid_parameter", f"invalid n {show_json(n)} (allowed: 1; oruel gives one reply)",
            param="n",
        )  # fmt: skip
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise BadInput(
            "invalid_line", f"{dot}model {show_json(model)} must be a string", param="model"
        )
    parsed = ChatBody(
        messages=messages,
        params={k: body[k] for k in PARAM_NAMES if k in body},
        model=model,
        system=opt_str(body, "system", dot),
        preset=opt_str(body, "preset", dot),
        ignored={k: body[k] for k in IGNORED_OPENAI_FIELDS if k in body},
        template_kwargs=template_kwargs_of(body, dot),
    )
    for alias, name in PARAM_ALIASES.items():
        _fold_alias(body, parsed, alias, name)
    return parsed


def template_kwargs_of(obj: dict[str, Any], dot: str) -> dict[str, Any]:
    from ..formats.kwargs import check_template_kwargs

    try:
        return check_template_kwargs(obj.get("chat_template_kwargs"), f"{dot}chat_template_kwargs")
    except UsageError as e:
        raise BadInput("invalid_parameter", str(e), param="chat_template_kwargs") from None


def _fold_alias(body: dict[str, Any], parsed: ChatBody, alias: str, name: str) -> None:
    """An alias's value stands for its parameter; both given (not null) must agree
    (max_tokens and max_completion_tokens may not both be given at all)."""
    if alias not in body:
        return
    value, mine = body[alias], body.get(name)
    if value is not None and mine is not None:
        same = type(value) is type(mine) and value == mine
        if alias == "max_completion_tokens" or not same:
            agree = "" if alias == "max_completion_tokens" else " with different values"
            raise BadInput(
                "invalid_parameter",
                f"both {name} and {alias} are given{agree}; give one "
                f"({alias} is an alias of {name})",
                param=alias,
            )
    if value is not None or name not in parsed.params:
        parsed.params[name] = value
        parsed.aliases[name] = alias


def _check_refused(key: str, value: Any, dot: str) -> None:
    harmless, why = REFUSED_OPENAI_FIELDS[key]
    if any(value is h or (type(value) is type(h) and value == h) for h in harmless):
        return
    shown = " or ".join("null" if h is None else json.dumps(h) for h in harmless)
    raise BadInput(
        "invalid_parameter",
        f"invalid {dot}{key} {show_json(value)}: {why} (allowed: {shown}, or leave it out)",
        param=key,
    )


def check_messages(value: Any, where: str) -> list[dict[str, Any]]:
    shape = 'a non-empty list of {"role": ..., "content": ...} objects'
    if not isinstance(value, list) or not value:
        raise BadInput("invalid_line", f"{where} {show_json(value, 60)} must be {shape}")
    for i, m in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(m, dict):
            raise BadInput(
                "invalid_line",
                f"{at} {show_json(m, 60)} must be an object; {where} must be {shape}",
            )
        role = m.get("role")
        if role not in ROLES:
            raise BadInput(
                "invalid_line",
                f"{at}.role {show_json(role)} is not allowed; allowed: {', '.join(ROLES)}",
            )
        if "content" not in m and not (role == "assistant" and m.get("tool_calls")):
            raise BadInput(
                "invalid_line",
                f'{at} has no "content"; every message needs one (an assistant message '
                f'with "tool_calls" may have none)',
            )
        content = m.get("content")
        if content is None or isinstance(content, str):
            continue
        if isinstance(content, list):
            for j, part in enumerate(content):
                if not (
                    isinstance(part, dict)
                    and part.get("type") == "text"
                    and isinstance(part.get("text"), str)
                ):
                    raise BadInput(
                        "invalid_line",
                        f"{at}.content[{j}] {show_json(part, 60)} is not supported; content parts must be "
                        f'{{"type": "text", "text": "..."}} (a local text model reads text only)',
                    )
            continue
        raise BadInput(
            "invalid_line",
            f"{at}.content {show_json(content, 60)} must be a string, null or a list of text parts",
        )
    return value


def opt_str(obj: dict[str, Any], key: str, prefix: str = "") -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise BadInput("invalid_line", f"{prefix}{key} {show_json(value)} must be a string", param=key)


def unknown_field(key: str, allowed: tuple[str, ...], what: str, where: str = "") -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    if key == "max_completion_tokens":  # only form 3 takes the alias
        close = ["max_tokens"]
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown {what} {key!r}{where}{hint}; allowed: {', '.join(allowed)}"


def json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, bool) or value is None:
        return f"JSON {json.dumps(value)}"
    return "a JSON number"


def show_json(value: Any, limit: int = 40) -> str:
    """A value as written in JSON, cut short."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
