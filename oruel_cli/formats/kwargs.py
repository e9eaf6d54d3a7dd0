"""Keywords for a chat template (`enable_thinking`, `reasoning_effort`,
`date_string`, ...): from `--template-arg KEY=VALUE`, the config, and
`chat_template_kwargs` in serve and batch bodies (the field vLLM and
llama-server read)."""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import UsageError

# Keywords oruel passes itself: a caller may not set them.
RESERVED = ("messages", "tools", "add_generation_prompt")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_key(key: Any, where: str) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise UsageError(
            f"{where}: invalid template keyword {key!r} (allowed: a name of letters, digits "
            "and underscores, such as enable_thinking)"
        )
    if key in RESERVED:
        raise UsageError(
            f"{where}: the template keyword {key!r} is set by oruel itself "
            f"(not allowed: {', '.join(RESERVED)})"
        )
    return key


def parse_template_args(items: list[str] | None) -> dict[str, Any]:
    """`KEY=VALUE` flags: the VALUE as JSON (false, 3, "x", [..]), else as a string."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, eq, text = item.partition("=")
        if not eq:
            raise UsageError(
                f"invalid --template-arg {item!r} (allowed: KEY=VALUE, such as "
                "enable_thinking=false)"
            )
        check_key(key, "--template-arg")
        try:
            value: Any = json.loads(text, parse_constant=_no_constant)
        except ValueError:
            value = text
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def check_template_kwargs(value: Any, where: str = "chat_template_kwargs") -> dict[str, Any]:
    """A body's chat_template_kwargs: an object of keywords (null: none)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(
            f'{where} must be an object of template keywords, such as {{"enable_thinking": false}}'
        )
    for key in value:
        check_key(key, where)
    return dict(value)
