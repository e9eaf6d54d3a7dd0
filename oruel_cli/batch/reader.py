"""Read a batch input (JSONL) one line at a time, in any of the three forms.

1. ``{"prompt": "...", ...}``
2. ``{"messages": [...], ...}``
3. an OpenAI Batch API request line:
   ``{"custom_id": "...", "method": "POST", "url": "/v1/chat/completions",
   "body": {"messages": [...], ...}}``

The file is streamed: ``read_batch`` is a generator that holds one line at a
time, plus the set of ids seen so far (to refuse a duplicate). Every non-blank
line yields one ``BatchLine``; a line that cannot run carries a ``LineError``
and still yields, so the job writes an error record for it and goes on.

Parameter values are passed on raw (``BatchLine.params``); their types and
ranges are checked later by the runner (``params.validate``), which is also
where ``invalid_parameter`` errors come from. This module checks the shape of
a line: JSON, form, field names, ids. Form 3's body goes through
``parse_body``, which `oruel serve` uses for its request bodies as well, so the
two accept, ignore and refuse exactly the same fields.

Interpretations, where the line formats leave a choice:

- ``stream`` is accepted on a line (it is one of the parameters) and kept in
  ``params`` raw; a batch job writes whole records, so it has no effect there.
- A ``null`` parameter value is kept raw (the runner decides what it means);
  ``null`` for ``id``, ``system``, ``preset``, ``model`` and ``n`` means "absent".
- An explicit id of the form ``line-M`` is reserved for line M (the id a line
  gets when it has none): on another line it is refused, so that an explicit
  id can never collide with a generated one and the output keeps one record
  per id.
- A line that has an error but a valid id keeps its id (and that id counts as
  used); a line whose id is not usable or is a duplicate gets ``line-N``.
- Roles and content are checked as the chat template takes them: role one of
  system, developer, user, assistant, tool; content a string, null, or a list
  of text parts.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..params.model import PARAM_NAMES

FORM_SIMPLE = "simple"
FORM_OPENAI = "openai"

OPENAI_URL = "/v1/chat/completions"
OPENAI_KEYS = ("custom_id", "method", "url", "body")
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
LINE_FIELDS = ("id", "system", "preset")
ROLES = ("system", "developer", "user", "assistant", "tool")

# What each place accepts, in the order a message lists them.
SIMPLE_ALLOWED: tuple[str, ...] = (
    "prompt", "messages", *LINE_FIELDS, *PARAM_NAMES, "chat_template_kwargs",
)  # fmt: skip
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

_SIMPLE_ALLOWED_SET = frozenset(SIMPLE_ALLOWED)
_BODY_ALLOWED_SET = frozenset(BODY_ALLOWED)
_RESERVED_ID = re.compile(r"line-([1-9][0-9]*)")
_BOM = b"\xef\xbb\xbf"


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


@dataclass
class BatchLine:
    """One non-blank input line, parsed (or the error that stops it)."""

    line_no: int
    id: str
    form: str
    messages: list[dict[str, Any]] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None
    system: str | None = None
    model: str | None = None
    error: LineError | None = None
    template_kwargs: dict[str, Any] = field(default_factory=dict)  # chat_template_kwargs


class BadInput(Exception):
    """Raised inside the parser: the line (or, in `oruel serve`, the HTTP request)
    gets this error. `param` names the field at fault, where one is."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.error = LineError(code, message)
        self.param = param


# --------------------------------------------------------------------------- files


def _check_input(path: Path) -> None:
    p = Path(path)
    if not p.exists() or p.is_dir():
        raise UsageError(f"input file not found: {p}")


def count_lines(path: Path) -> int:
    """The number of non-blank lines (the progress total), read in chunks as bytes.

    "Blank" is the same test ``read_batch`` uses: only ASCII whitespace.
    """
    _check_input(path)
    total = 0
    rest = b""
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                parts = (rest + chunk).split(b"\n")
                rest = parts.pop()
                total += sum(1 for p in parts if p.strip())
    except OSError as e:
        raise UsageError(f"cannot read input file {path}: {e.strerror or e}") from None
    if rest.strip():
        total += 1
    return total


def read_batch(path: Path) -> Iterator[BatchLine]:
    """Yield one ``BatchLine`` per non-blank line of a JSONL file, streaming.

    Raises ``UsageError`` at once (not at the first ``next``) when the file is
    missing or a directory.
    """
    _check_input(path)
    return _lines(Path(path))


def _lines(path: Path) -> Iterator[BatchLine]:
    seen: dict[str, int] = {}  # id -> the line that has it
    try:
        f = open(path, "rb")
    except OSError as e:
        raise UsageError(f"cannot read input file {path}: {e.strerror or e}") from None
    with f:
        for line_no, raw in enumerate(f, start=1):
            if line_no == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            if not raw.strip():
                continue
            yield parse_line(raw, line_no, seen)


# --------------------------------------------------------------------------- one line


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


def parse_line(raw: bytes | str, line_no: int, seen: dict[str, int] | None = None) -> BatchLine:
    """Parse one non-blank line. ``seen`` maps ids already used to their line numbers
    (updated in place with this line's id when it keeps one)."""
    if seen is None:
        seen = {}
    auto = f"line-{line_no}"
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as e:
        col = len(e.object[: e.start].decode("utf-8", "replace")) + 1
        msg = (
            f"the line is not UTF-8 text (byte 0x{e.object[e.start]:02x} at column {col}); "
            "each line must be one JSON object, in UTF-8"
        )
        return _error_line(line_no, FORM_SIMPLE, "invalid_json", msg)
    try:
        obj = loads_strict(text)
    except json.JSONDecodeError as e:
        msg = f"the line is not valid JSON ({e.msg} at column {e.colno}); each line must be one JSON object"
        return _error_line(line_no, FORM_SIMPLE, "invalid_json", msg)
    except (ValueError, RecursionError) as e:
        reason = str(e) if isinstance(e, ValueError) else "nested too deeply"
        msg = f"the line is not valid JSON ({reason}); each line must be one JSON object"
        return _error_line(line_no, FORM_SIMPLE, "invalid_json", msg)
    if not isinstance(obj, dict):
        msg = f"the line is {_kind(obj)}, not an object; each line must be one JSON object"
        return _error_line(line_no, FORM_SIMPLE, "invalid_json", msg)

    form = FORM_SIMPLE if obj.keys().isdisjoint(OPENAI_KEYS) else FORM_OPENAI
    line = BatchLine(line_no=line_no, id=auto, form=form)
    try:
        given = _given_id(obj, form, line_no)
        if given is not None:
            if given in seen:
                line.id = auto
                name = "custom_id" if form == FORM_OPENAI else "id"
                raise BadInput(
                    "duplicate_id",
                    f"{name} {given!r} is already used by line {seen[given]}; ids must be "
                    f"unique, so this line's record has the id {auto}",
                )
            line.id = given
            seen[given] = line_no
        if form == FORM_OPENAI:
            _parse_openai(obj, line)
        else:
            _parse_simple(obj, line)
    except BadInput as bad:
        line.error = bad.error
    return line


def _error_line(line_no: int, form: str, code: str, message: str) -> BatchLine:
    return BatchLine(
        line_no=line_no, id=f"line-{line_no}", form=form, error=LineError(code, message)
    )


def _given_id(obj: dict[str, Any], form: str, line_no: int) -> str | None:
    """The line's own id, or None when it has none; BadInput when it is not usable."""
    name = "custom_id" if form == FORM_OPENAI else "id"
    value = obj.get(name)
    if form == FORM_SIMPLE and value is None:
        return None
    if value is None:
        raise BadInput("invalid_line", f"{name} is missing; it must be a non-empty string")
    if not isinstance(value, str) or not value:
        raise BadInput("invalid_line", f"{name} {_show(value)} must be a non-empty string")
    m = _RESERVED_ID.fullmatch(value)
    if m and int(m.group(1)) != line_no:
        raise BadInput(
            "invalid_line",
            f"{name} {value!r} is reserved for line {m.group(1)} (the id a line without one "
            f"gets); use another id",
        )
    return value


def _parse_simple(obj: dict[str, Any], line: BatchLine) -> None:
    if not _SIMPLE_ALLOWED_SET.issuperset(obj):
        key = next(k for k in obj if k not in _SIMPLE_ALLOWED_SET)
        raise BadInput("unknown_parameter", _unknown(key, SIMPLE_ALLOWED, "field"))
    has_prompt, has_messages = "prompt" in obj, "messages" in obj
    if has_prompt and has_messages:
        raise BadInput(
            "invalid_line",
            'the line has both "prompt" and "messages"; give one of them',
        )
    if not has_prompt and not has_messages:
        raise BadInput(
            "invalid_line",
            'the line has neither "prompt" nor "messages"; give one of them '
            '(or an OpenAI batch request with "custom_id", "method", "url", "body")',
        )
    if has_prompt:
        prompt = obj["prompt"]
        if not isinstance(prompt, str):
            raise BadInput("invalid_line", f"prompt {_show(prompt)} must be a string")
        line.messages = [{"role": "user", "content": prompt}]
    else:
        line.messages = _check_messages(obj["messages"], "messages")
    line.system = _opt_str(obj, "system")
    line.preset = _opt_str(obj, "preset")
    line.params = {k: obj[k] for k in PARAM_NAMES if k in obj}
    line.template_kwargs = _template_kwargs(obj, "")


def _parse_openai(obj: dict[str, Any], line: BatchLine) -> None:
    for key in obj:
        if key not in OPENAI_KEYS:
            raise BadInput(
                "invalid_line",
                f"unknown field {key!r} in an OpenAI batch request line; allowed: "
                f"{', '.join(OPENAI_KEYS)} (parameters go in body)",
            )
    method = obj.get("method")
    if method != "POST":
        raise BadInput(
            "invalid_line", f'method {_show(method)} is not supported; it must be "POST"'
        )
    url = obj.get("url")
    if url != OPENAI_URL:
        raise BadInput(
            "invalid_line", f"url {_show(url)} is not supported; it must be {OPENAI_URL!r}"
        )
    body = obj.get("body")
    if not isinstance(body, dict):
        raise BadInput("invalid_line", f"body {_show(body)} must be an object holding messages")
    if "id" in body:
        raise BadInput(
            "unknown_parameter",
            "unknown field 'id' in body; an OpenAI batch request's id is its custom_id",
        )
    parsed = parse_body(body, "body")
    line.messages, line.params, line.model = parsed.messages, parsed.params, parsed.model
    line.system, line.preset = parsed.system, parsed.preset
    line.template_kwargs = parsed.template_kwargs


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
            raise BadInput("unknown_parameter", _unknown(key, BODY_ALLOWED, "field", at), param=key)
    if "messages" not in body:
        raise BadInput(
            "invalid_line", f"{where or 'the body'} has no messages; it must hold a messages list",
            param="messages",
        )  # fmt: skip
    try:
        messages = _check_messages(body["messages"], f"{dot}messages")
    except BadInput as bad:
        bad.param = "messages"
        raise
    n = body.get("n")
    if n is not None and not (type(n) is int and n == 1):
        raise BadInput(
            "invalid_parameter", f"invalid n {_show(n)} (allowed: 1; oruel gives one reply)",
            param="n",
        )  # fmt: skip
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise BadInput("invalid_line", f"{dot}model {_show(model)} must be a string", param="model")
    parsed = ChatBody(
        messages=messages,
        params={k: body[k] for k in PARAM_NAMES if k in body},
        model=model,
        system=_opt_str(body, "system", dot),
        preset=_opt_str(body, "preset", dot),
        ignored={k: body[k] for k in IGNORED_OPENAI_FIELDS if k in body},
        template_kwargs=_template_kwargs(body, dot),
    )
    for alias, name in PARAM_ALIASES.items():
        _fold_alias(body, parsed, alias, name)
    return parsed


def _template_kwargs(obj: dict[str, Any], dot: str) -> dict[str, Any]:
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
        f"invalid {dot}{key} {_show(value)}: {why} (allowed: {shown}, or leave it out)",
        param=key,
    )


def _check_messages(value: Any, where: str) -> list[dict[str, Any]]:
    shape = 'a non-empty list of {"role": ..., "content": ...} objects'
    if not isinstance(value, list) or not value:
        raise BadInput("invalid_line", f"{where} {_show(value, 60)} must be {shape}")
    for i, m in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(m, dict):
            raise BadInput(
                "invalid_line", f"{at} {_show(m, 60)} must be an object; {where} must be {shape}"
            )
        role = m.get("role")
        if role not in ROLES:
            raise BadInput(
                "invalid_line",
                f"{at}.role {_show(role)} is not allowed; allowed: {', '.join(ROLES)}",
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
                        f"{at}.content[{j}] {_show(part, 60)} is not supported; content parts must be "
                        f'{{"type": "text", "text": "..."}} (a local text model reads text only)',
                    )
            continue
        raise BadInput(
            "invalid_line",
            f"{at}.content {_show(content, 60)} must be a string, null or a list of text parts",
        )
    return value


def _opt_str(obj: dict[str, Any], key: str, prefix: str = "") -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise BadInput("invalid_line", f"{prefix}{key} {_show(value)} must be a string", param=key)


def _unknown(key: str, allowed: tuple[str, ...], what: str, where: str = "") -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    if key == "max_completion_tokens":  # only form 3 takes the alias
        close = ["max_tokens"]
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown {what} {key!r}{where}{hint}; allowed: {', '.join(allowed)}"


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, bool) or value is None:
        return f"JSON {json.dumps(value)}"
    return "a JSON number"


def _show(value: Any, limit: int = 40) -> str:
    """A value as written in JSON, cut short."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
