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
ranges are checked later by the runner (``params.values``), which is also
where ``invalid_parameter`` errors come from. This module checks the shape of
a line: JSON, form, field names, ids. Form 3's body goes through
``api.body.parse_body``, which `oruel serve` uses for its request bodies as well, so the
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

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api.body import (
    BadInput,
    LineError,
    check_messages,
    json_kind,
    loads_strict,
    opt_str,
    parse_body,
    show_json,
    template_kwargs_of,
    unknown_field,
)
from ..errors import UsageError
from ..params.model import PARAM_NAMES

FORM_SIMPLE = "simple"
FORM_OPENAI = "openai"

OPENAI_URL = "/v1/chat/completions"
OPENAI_KEYS = ("custom_id", "method", "url", "body")
LINE_FIELDS = ("id", "system", "preset")

# What each place accepts, in the order a message lists them.
SIMPLE_ALLOWED: tuple[str, ...] = (
    "prompt", "messages", *LINE_FIELDS, *PARAM_NAMES, "chat_template_kwargs",
)  # fmt: skip

_SIMPLE_ALLOWED_SET = frozenset(SIMPLE_ALLOWED)
_RESERVED_ID = re.compile(r"line-([1-9][0-9]*)")
_BOM = b"\xef\xbb\xbf"


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
        msg = f"the line is {json_kind(obj)}, not an object; each line must be one JSON object"
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
        raise BadInput("invalid_line", f"{name} {show_json(value)} must be a non-empty string")
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
        raise BadInput("unknown_parameter", unknown_field(key, SIMPLE_ALLOWED, "field"))
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
            raise BadInput("invalid_line", f"prompt {show_json(prompt)} must be a string")
        line.messages = [{"role": "user", "content": prompt}]
    else:
        line.messages = check_messages(obj["messages"], "messages")
    line.system = opt_str(obj, "system")
    line.preset = opt_str(obj, "preset")
    line.params = {k: obj[k] for k in PARAM_NAMES if k in obj}
    line.template_kwargs = template_kwargs_of(obj, "")


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
            "invalid_line", f'method {show_json(method)} is not supported; it must be "POST"'
        )
    url = obj.get("url")
    if url != OPENAI_URL:
        raise BadInput(
            "invalid_line", f"url {show_json(url)} is not supported; it must be {OPENAI_URL!r}"
        )
    body = obj.get("body")
    if not isinstance(body, dict):
        raise BadInput("invalid_line", f"body {show_json(body)} must be an object holding messages")
    if "id" in body:
        raise BadInput(
            "unknown_parameter",
            "unknown field 'id' in body; an OpenAI batch request's id is its custom_id",
        )
    parsed = parse_body(body, "body")
    line.messages, line.params, line.model = parsed.messages, parsed.params, parsed.model
    line.system, line.preset = parsed.system, parsed.preset
    line.template_kwargs = parsed.template_kwargs
