"""A parameter's values: text parsed into them, raw values checked into
GenerationParams, and both shown back, with one message per failure that names
the parameter, the value given and what is allowed.

Parsing text is the one parser behind the flags (`--top-k 40`), chat's
`/set top_k 40` and `--sweep top_k=20,40` / `--values`: a value is parsed by its
type in the parameter model and checked against its range at once, so a bad one
gets the same message wherever it was typed, and the message quotes the text as
typed (`invalid top_p '2'`, not `2.0`).
"""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from ..errors import UsageError, read_user_text
from .model import (
    BIAS_LIMIT,
    MAX_STOP_CHARS,
    MAX_STOPS,
    MAX_TOOLS,
    PARAM_NAMES,
    SHOWN_DEFAULT,
    GenerationParams,
)

_SPECIAL_ALLOWED = {
    "seed": "an integer (any 64-bit value, -2^63 to 2^64-1)",
    "stop": f"a string or a list of up to {MAX_STOPS} strings, each 1 to {MAX_STOP_CHARS} characters",
    "response_format": '{"type": "text"}, {"type": "json_object"} or '
    '{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}',
    "stream": "true or false",
    "tools": f"a list of up to {MAX_TOOLS} OpenAI function definitions",
    "tool_choice": 'auto, none, required, or {"type": "function", "function": {"name": ...}}',
    "tier": "standard or turbo",
    "logprobs": "true or false",
    "logit_bias": 'an object of token ids to numbers from -100 to 100, such as {"1234": -100}',
}


def _bounds(field: FieldInfo) -> tuple[float | None, float | None]:
    lo = hi = None
    for m in field.metadata:
        lo = getattr(m, "ge", lo)
        hi = getattr(m, "le", hi)
    return lo, hi


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def param_type(name: str) -> str:
    """'number', 'integer', 'string', ... as the reference names the type."""
    ann = str(GenerationParams.model_fields[name].annotation)
    for py, word in (("float", "number"), ("int", "integer"), ("bool", "boolean")):
        if py in ann and "str" not in ann:
            return word
    other = {"stop": "string or array", "tools": "array", "tier": "string",
             "tool_choice": "string or object"}  # fmt: skip
    return other.get(name, "object")


def allowed(name: str) -> str:
    """What a parameter accepts, in words, built from the model's own bounds."""
    if name in _SPECIAL_ALLOWED:
        return _SPECIAL_ALLOWED[name]
    lo, hi = _bounds(GenerationParams.model_fields[name])
    kind = "an integer" if param_type(name) == "integer" else "a number"
    return f"{kind} from {_fmt(lo)} to {_fmt(hi)}"


def range_text(name: str) -> str:
    """The compact range ('0..2') for tables, or '' where there is none."""
    if name in _SPECIAL_ALLOWED:
        special = {
            "stop": f"≤{MAX_STOPS} × ≤{MAX_STOP_CHARS} chars",
            "tools": f"≤{MAX_TOOLS}",
            "logit_bias": "-100..100 a token",
        }
        return special.get(name, "")
    lo, hi = _bounds(GenerationParams.model_fields[name])
    return f"{_fmt(lo)}..{_fmt(hi)}"


def default_text(name: str) -> str:
    """A parameter's default in the reference's words: the value, "not set", or
    the field's own wording (max_tokens: "model-dependent", then what unset does)."""
    field = GenerationParams.model_fields[name]
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get(SHOWN_DEFAULT), str):
        return str(extra[SHOWN_DEFAULT])
    return "not set" if field.default is None else show_value(field.default)


def show_value(value: Any) -> str:
    """A value as the user would have written it."""
    if isinstance(value, str):
        return repr(value)
    try:
        return json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return repr(value)


def unknown_name_message(name: str, what: str = "parameter") -> str:
    """'unknown parameter 'temprature' (did you mean temperature?); known: ...'."""
    close = difflib.get_close_matches(name, PARAM_NAMES, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown {what} {name!r}{hint}; known: {', '.join(PARAM_NAMES)}"


def check_names(values: dict[str, Any], where: str = "") -> None:
    for name in values:
        if name not in PARAM_NAMES:
            raise UsageError(where + unknown_name_message(name))


def validate_params(
    values: dict[str, Any], where: str = "", typed: dict[str, str] | None = None
) -> GenerationParams:
    """Validate a dict of parameters (unset keys take their defaults).

    ``where`` prefixes the message ("preset file x.yaml: ") so the user knows
    which input holds the bad value; ``typed`` holds the text a value was
    parsed from, which the message quotes as the user typed it.
    """
    check_names(values, where)
    shown: dict[str, Any] = dict(typed or {})  # text: shown quoted, as typed
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(_message(where, name, shown.get(name, value)))
    try:
        return GenerationParams.model_validate(values)
    except ValidationError as e:
        err = e.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "?"
        value = shown.get(name, values.get(name, err.get("input")))
        reason = err.get("msg", "")
        raise UsageError(_message(where, name, value, reason)) from None


def check_tool_choice(params: GenerationParams, where: str = "") -> None:
    """tool_choice against the tools of the same request: it needs tools (unless
    ``none``), and a named function must be one of them. A whole-request check,
    so it runs on merged layers (--tool-choice may come from a flag, the tools
    from a preset), before any model loads."""
    choice, tools = params.tool_choice, params.tools
    if choice is None or choice == "none":
        return
    if not tools:
        raise UsageError(
            f"{where}invalid tool_choice {show_value(choice)}: it needs tools "
            "(allowed: give --tools FILE)"
        )
    name = params.forced_tool()
    known = [t["function"]["name"] for t in tools]
    if name is not None and name not in known:
        raise UsageError(
            f"{where}invalid tool_choice {name!r}: no such tool (allowed: {', '.join(known)})"
        )


class ParamError(UsageError):
    """A usage error about one parameter, found once the model is known (a token
    id outside its vocabulary): `param` names it, for a server's error object."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def check_bias_ids(params: GenerationParams, n_vocab: int) -> None:
    """Every token id of logit_bias must be in the model's vocabulary."""
    bad = [k for k in params.logit_bias or {} if int(k) >= n_vocab]
    if bad:
        raise ParamError(
            f"invalid logit_bias: token id {bad[0]} is not in this model's vocabulary "
            f"(allowed: token ids 0 to {n_vocab - 1})",
            "logit_bias",
        )


def check_logprobs(params: GenerationParams, where: str = "") -> None:
    """top_logprobs needs logprobs, as OpenAI says (a whole-request check: the
    two may come from different layers)."""
    if params.top_logprobs and not params.logprobs:
        raise UsageError(
            f"{where}invalid top_logprobs {params.top_logprobs}: it needs logprobs true "
            "(allowed: set logprobs too; on the command line --logprobs N sets both)"
        )


def _message(where: str, name: str, value: Any, reason: str = "") -> str:
    detail = ""
    if reason.startswith("Value error, "):
        detail = f": {reason.removeprefix('Value error, ')}"
    return f"{where}invalid {name} {show_value(value)}{detail} (allowed: {allowed(name)})"


# -- text to values ------------------------------------------------------------

TRUE_WORDS = ("true", "on", "yes", "1")
FALSE_WORDS = ("false", "off", "no", "0")
RESPONSE_FORMATS = ("text", "json_object")
TOOL_CHOICES = ("auto", "none", "required")


def canonical_name(text: str) -> str:
    """'--top-p', 'top-p', 'Top_P' and 'top_p' all name top_p."""
    return text.strip().lstrip("-").replace("-", "_").lower()


def parse_name(text: str, extra: tuple[str, ...] = ()) -> str:
    """A parameter name as typed (or one of `extra`); an unknown one is exit 2."""
    name = canonical_name(text)
    if name not in PARAM_NAMES and name not in extra:
        raise UsageError(unknown_name_message(name))
    return name


def parse_bool(name: str, text: str) -> bool:
    """true/on/yes/1 or false/off/no/0, any case."""
    word = text.strip().lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        raise UsageError(f"invalid {name} {text!r} (allowed: true or false, on or off, yes or no)")
    return word in TRUE_WORDS


def parse_value(name: str, text: str) -> Any:
    """One parameter's value from text, checked against its range. `stop` is
    one stop string; `tools` names a JSON or YAML file."""
    kind = param_type(name)
    if kind in ("number", "integer"):
        value: Any = _number(name, text, kind)
    elif name == "stream":
        value = parse_bool(name, text)
    elif name == "stop":
        value = [text]
    elif name == "response_format":
        if text not in RESPONSE_FORMATS:
            raise UsageError(
                f"invalid --response-format {text!r} "
                "(allowed: text or json_object; use --json-schema FILE for a schema)"
            )
        value = {"type": text}
    elif name == "tool_choice":
        value = text if text in TOOL_CHOICES else {"type": "function", "function": {"name": text}}
    elif name == "tools":
        value = read_json_or_yaml(Path(text).expanduser(), "--tools")
    elif name == "tier":
        value = text
    elif name == "logprobs":
        value = parse_bool(name, text)
    elif name == "logit_bias":  # ID=BIAS words, as --logit-bias takes each
        value = dict(map(parse_bias, text.split()))
    else:
        raise UsageError(f"{name} takes no value as text (allowed: set it in a file)")
    # the message quotes the text; a stop string shows as the list it joins
    validate_params({name: value}, typed=None if name == "stop" else {name: text})
    return value


def parse_bias(text: str) -> tuple[str, int | float]:
    """'1234=-100' -> ('1234', -100); a bad one names the flag and what it takes."""
    token, sep, bias = text.partition("=")
    value: int | float | None = None
    if sep and token.strip().isascii() and token.strip().isdigit():
        try:
            value = int(bias) if bias.strip().lstrip("+-").isdigit() else float(bias)
        except ValueError:
            value = None
    if value is None or not math.isfinite(value) or not -BIAS_LIMIT <= value <= BIAS_LIMIT:
        raise UsageError(
            f"invalid --logit-bias {text!r} (allowed: ID=BIAS, a token id and a number "
            f"from -{BIAS_LIMIT} to {BIAS_LIMIT}, such as 1234=-100)"
        )
    return str(int(token)), value


def _number(name: str, text: str, kind: str) -> int | float:
    """The text as its parameter's type; NaN and the infinities are refused."""
    try:
        value: int | float = int(text) if kind == "integer" else float(text)
    except ValueError:
        value = math.nan
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"invalid {name} {text!r} (allowed: {allowed(name)})")
    return value


def read_json_or_yaml(path: Path, flag: str) -> Any:
    """A JSON or YAML file given to a flag; errors name the flag and the file."""
    text = read_user_text(path, flag, "JSON or YAML")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise UsageError(f"{flag} {path}: neither valid JSON nor valid YAML") from None


def parse_int_option(flag: str, text: str | None, lo: int, hi: int, default: int) -> int:
    """An integer option's value (`--parallel 8`, `--ctx 4096`): `default` when not
    given; anything else but an integer from `lo` to `hi` is exit 2, naming both."""
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        raise UsageError(f"invalid {flag} {text!r} (allowed: an integer from {lo} to {hi})")
    return value
