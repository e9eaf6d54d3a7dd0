"""The ids OpenAI's format gives a reply and its tool calls, minted in one place,
so that every command, the log and the server carry ids of one shape."""

from __future__ import annotations

import uuid


def completion_id() -> str:
    """A fresh `chatcmpl-` id: a reply's (every streamed chunk of it carries it)."""
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def tool_call_id() -> str:
    """A fresh `call_` id, for a tool call parsed from a reply's text."""
    return f"call_{uuid.uuid4().hex[:24]}"
