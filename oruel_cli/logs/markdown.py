"""Logged replies as Markdown: the listing, `logs show` and `export --format md`.

One text for all three, so a listing piped to a file reads like an export,
and `show` on a terminal is the same text rendered by rich.
"""

from __future__ import annotations

from typing import Any

from ..params.values import show_value
from .query import local_time_iso
from .record import content_text


def heading(obj: dict[str, Any]) -> str:
    model = obj["model"]["name"] or "?"
    conv = obj["conversation_name"] or obj["conversation_id"]
    when = local_time_iso(obj["time"])
    return f"## {obj['id']} · {when} · {model} · conversation {conv} ({obj['command']})"


def usage_line(obj: dict[str, Any]) -> str:
    u = obj["usage"]
    ttft = obj["first_token_seconds"]
    total = obj["total_seconds"]
    times = f" · first token {ttft:.2f} s" if ttft is not None else ""
    times += f" · {total:.2f} s in all" if total is not None else ""
    return (
        f"{u['prompt_tokens']} prompt + {u['completion_tokens']} completion = "
        f"{u['total_tokens']} tokens{times} · finish: {obj['finish_reason']}"
    )


def brief(obj: dict[str, Any], usage: bool = False) -> str:
    """A listing entry: heading, prompt, reply (and the usage line with -u)."""
    parts = [heading(obj), "", "### Prompt", "", _prompt(obj), "", "### Reply", "", _reply(obj)]
    if usage:
        parts += ["", f"*{usage_line(obj)}*"]
    return "\n".join(parts) + "\n"


def full(obj: dict[str, Any]) -> str:
    """One exchange whole: model, times, system prompt, every message, reply, parameters."""
    model = obj["model"]
    ident = (
        f"{model['size']} bytes, first 64 KiB SHA-256 {model['head_sha256'][:16]}…"
        if model["head_sha256"]
        else "file not read"
    )
    parts = [
        heading(obj),
        "",
        f"- model: `{model['path']}` ({ident})",
        f"- {usage_line(obj)}",
    ]
    if obj["completion_id"]:
        parts.append(f"- completion id `{obj['completion_id']}`")
    parts.append("")
    if obj["system"]:
        parts += ["### System", "", obj["system"], ""]
    for m in obj["messages"]:
        parts += [f"### {str(m.get('role', '?')).capitalize()}", "", _text(m), ""]
    parts += ["### Reply", "", _reply(obj), "", "### Parameters", "", "```"]
    for name, entry in obj["params"].items():
        value = entry.get("value")
        shown = "not set" if value is None else show_value(value)
        parts.append(f"{name} = {shown} ({entry.get('source', 'default')})")
    parts.append("```")
    return "\n".join(parts) + "\n"


def _prompt(obj: dict[str, Any]) -> str:
    for m in reversed(obj["messages"]):
        if m.get("role") == "user":
            return _text(m)
    return "*(no user message)*"


def _text(message: dict[str, Any]) -> str:
    text = content_text(message.get("content"))
    if message.get("tool_calls"):
        text += "\n\n" + _calls(message["tool_calls"])
    return text.strip() or "*(empty)*"


def _reply(obj: dict[str, Any]) -> str:
    text = (obj["reply"] or "").strip()
    if obj["tool_calls"]:
        text = (text + "\n\n" if text else "") + _calls(obj["tool_calls"])
    if obj["finish_reason"] == "cancelled":
        text += "\n\n*(cut: interrupted)*"
    return text or "*(empty)*"


def _calls(calls: list[dict[str, Any]]) -> str:
    lines = ["Tool calls:", "", "```json"]
    for call in calls:
        fn = call.get("function", {})
        lines.append(f'{{"name": "{fn.get("name")}", "arguments": {fn.get("arguments")}}}')
    lines.append("```")
    return "\n".join(lines)
