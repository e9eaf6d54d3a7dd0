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


EFFORTS = ("low", "medium", "high")


def check_effort(value: str | None) -> str | None:
    if value is not None and value.lower() not in EFFORTS:
        raise UsageError(f"--reasoning-effort {value!r} is not allowed; allowed: low, medium, high")
    return value.lower() if value is not None else None


def thinking_kwargs(
    think: bool | None, effort: str | None, switches: tuple[str, ...] | None, origin: str
) -> dict[str, Any]:
    """The template keywords --think/--no-think and --reasoning-effort set.

    `switches`: the keywords the template reads (None: a remote server's
    template, unknown here: the common names are sent as chat_template_kwargs).
    """
    out: dict[str, Any] = {}
    if think is not None:
        known = switches if switches is not None else ("enable_thinking",)
        key = next((k for k in ("enable_thinking", "thinking") if k in known), None)
        if key is None:
            flag = "--think" if think else "--no-think"
            hint = "; try --reasoning-effort low" if "reasoning_effort" in known else ""
            raise UsageError(
                f"{flag}: the chat template of {origin} has no thinking switch "
                f"(allowed on templates that read enable_thinking or thinking){hint}"
            )
        out[key] = think
    if effort is not None:
        if switches is not None and "reasoning_effort" not in switches:
            raise UsageError(
                f"--reasoning-effort: the chat template of {origin} does not read "
                "reasoning_effort (gpt-oss's does)"
            )
        out["reasoning_effort"] = effort
    return out
