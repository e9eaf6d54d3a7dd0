"""What one logged reply holds, built from what a command already has in hand.

Kept apart from the writing so that chat, ask and (with --log) run and serve
build the same row the same way.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.reply import Completion
    from ..params.layering import Effective

HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class ModelId:
    """A model file as the log names it: its size and the hash of its first 64 KiB."""

    name: str
    path: str
    size: int | None
    head_sha256: str | None

    @classmethod
    def of(cls, path: Path | str, name: str | None = None) -> ModelId:
        if isinstance(path, str) and "://" in path:  # a remote endpoint: its URL, no file
            return cls(name or path, path, None, None)
        p = Path(path)
        try:
            size: int | None = p.stat().st_size
            with open(p, "rb") as f:
                head: str | None = hashlib.sha256(f.read(HEAD_BYTES)).hexdigest()
        except OSError:  # a remote model, or a file gone: the name and path still say it
            size = head = None
        return cls(name or p.stem, str(p), size, head)


@dataclass
class ReplyRow:
    """One exchange: the messages sent and the reply that came back."""

    conversation_id: str
    command: str
    model: ModelId
    messages: list[dict[str, Any]]
    system: str | None
    reply: str | None
    tool_calls: list[dict[str, Any]] | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    first_token_seconds: float | None
    total_seconds: float | None
    params: dict[str, dict[str, Any]]
    completion_id: str | None = None
    job_id: int | None = None
    reasoning: str | None = None  # the thinking, where the model marked it
    time: float = field(default_factory=time.time)

    @classmethod
    def make(
        cls,
        command: str,
        conversation_id: str,
        messages: list[dict[str, Any]],
        system: str | None,
        effective: Effective,
        model: ModelId,
        completion: Completion,
    ) -> ReplyRow:
        return cls(
            conversation_id=conversation_id,
            command=command,
            model=model,
            messages=messages,
            system=system,
            reply=completion.content,
            tool_calls=completion.tool_calls or None,
            finish_reason=completion.finish_reason,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            first_token_seconds=completion.first_token_seconds,
            total_seconds=completion.seconds,
            params=params_with_sources(effective),
            completion_id=completion.id,
            reasoning=completion.reasoning_content,
        )

    def insert(self, conn: Any) -> int:
        """INSERT this row (and its conversation, if new); the caller holds the transaction."""
        conn.execute(
            "INSERT OR IGNORE INTO conversations (id, created) VALUES (?, ?)",
            (self.conversation_id, self.time),
        )
        cur = conn.execute(
            "INSERT INTO replies (time, conversation_id, command, job_id, completion_id, "
            "model_name, model_path, model_size, model_head_sha256, system, messages, prompt, "
            "reply, tool_calls, finish_reason, prompt_tokens, completion_tokens, "
            "first_token_seconds, total_seconds, params, reasoning) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.time, self.conversation_id, self.command, self.job_id, self.completion_id,
                self.model.name, self.model.path, self.model.size, self.model.head_sha256,
                self.system, to_json(self.messages), last_user_text(self.messages),
                self.reply, to_json(self.tool_calls) if self.tool_calls else None,
                self.finish_reason, self.prompt_tokens, self.completion_tokens,
                self.first_token_seconds, self.total_seconds, to_json(self.params),
                self.reasoning,
            ),
        )  # fmt: skip
        return int(cur.lastrowid)


def params_with_sources(effective: Effective) -> dict[str, dict[str, Any]]:
    """Every parameter as name -> {"value", "source"}: what --show-params prints."""
    from ..params.model import PARAM_NAMES

    values = effective.params.model_dump(mode="json")
    return {
        name: {"value": values.get(name), "source": effective.sources.get(name, "default")}
        for name in PARAM_NAMES
    }


def new_conversation_id() -> str:
    return uuid.uuid4().hex[:12]


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The prompt as the index and the listing see it: the last user message's text."""
    for m in reversed(messages):
        if m.get("role") == "user":
            return content_text(m.get("content"))
    return ""


def content_text(content: Any) -> str:
    """A message's content as text: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return "" if content is None else str(content)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
