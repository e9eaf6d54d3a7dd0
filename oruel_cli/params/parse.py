"""Text -> a parameter's name and value: the one parser behind the flags
(`--top-k 40`), chat's `/set top_k 40` and `--sweep top_k=20,40` / `--values`.

A value is parsed by its type in the parameter model and checked against its
range at once, so a bad one gets the same message wherever it was typed, and
the message quotes the text as typed (`invalid top_p '2'`, not `2.0`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .model import BIAS_LIMIT, PARAM_NAMES
from .validate import allowed, param_type, unknown_name_message, validate_params

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
    from ..config import read_user_text

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
