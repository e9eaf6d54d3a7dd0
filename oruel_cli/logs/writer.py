"""Writing replies into the log: the one call a command makes after a reply.

`ReplyLog` belongs to one conversation. ask makes one per command; a chat
session keeps one for the session and calls `add` after every reply (and
`new_conversation` on /reset). With `per_reply` every reply is a conversation
of its own: the lines of `oruel run --log`, the requests of `oruel serve --log`. When logging is off (`--no-log`, or the
config's `log: false`) it writes nothing and creates no file. A failure to
write is one warning on stderr, once per ReplyLog; the reply is never affected.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..render import warn
from .record import ModelId, ReplyRow, new_conversation_id
from .store import LogStore, LogUnavailable, write_transaction

if TYPE_CHECKING:
    from ..config import Config
    from ..engine.reply import Completion
    from ..params.layering import Resolved


def logging_enabled(config: Config, no_log: bool) -> bool:
    """--no-log wins; otherwise the config's `log` (true unless `oruel logs off`)."""
    return not no_log and config.log


class ReplyLog:
    def __init__(
        self,
        enabled: bool,
        command: str,
        conversation_id: str | None = None,
        store: LogStore | None = None,
        per_reply: bool = False,
    ) -> None:
        self.enabled = enabled
        self.command = command
        self.per_reply = per_reply
        self.conversation_id = conversation_id or new_conversation_id()
        self.store = store or LogStore()
        self._warned = False
        self._model: ModelId | None = None

    @classmethod
    def for_command(
        cls,
        command: str,
        config: Config,
        no_log: bool,
        conversation_id: str | None = None,
        per_reply: bool = False,
    ) -> ReplyLog:
        """The log of `command` ("ask", "chat", "run", "serve"), on or off as the flag
        and config say; `conversation_id` carries on a logged conversation (None: a new
        one)."""
        return cls(logging_enabled(config, no_log), command, conversation_id, per_reply=per_reply)

    def new_conversation(self) -> str:
        """Later replies go to a new conversation (chat's /reset); returns its id."""
        self.conversation_id = new_conversation_id()
        return self.conversation_id

    def add(
        self,
        messages: list[dict[str, Any]],
        resolved: Resolved,
        model_path: Path | str,
        completion: Completion,
    ) -> int | None:
        """Log one reply to `messages` (everything sent, earlier turns included, without
        the system prompt: that is `resolved.system`). Returns the reply's id, or None
        when logging is off, the generation failed (no reply to keep), or the log could
        not be written (warned once)."""
        if not self.enabled or getattr(completion, "error", None) is not None:
            return None
        try:
            model = self._model_id(model_path, completion.model)
            cid = new_conversation_id() if self.per_reply else self.conversation_id
            row = ReplyRow.make(
                self.command, cid, messages, resolved.system,
                resolved.effective, model, completion,
            )  # fmt: skip
        except Exception as e:  # a reply the log cannot hold must still be the command's own
            self._warn(f"this reply cannot be logged ({type(e).__name__}: {e})")
            return None
        return self.write(row)

    def write(self, row: ReplyRow) -> int | None:
        """Insert a prepared row in its own short transaction."""

        def insert(conn: Any) -> int:
            with write_transaction(conn):
                return row.insert(conn)

        try:
            return self.store.run(insert)
        except LogUnavailable as e:
            self._warn(f"{e}; this reply is not logged")
        except Exception as e:  # not the log's file: a bug here must not cost the reply either
            self._warn(f"this reply is not logged ({type(e).__name__}: {e})")
        return None

    def _warn(self, text: str) -> None:
        if not self._warned:  # once: a chat session does not repeat it after every reply
            self._warned = True
            warn(text)

    def _model_id(self, path: Path | str, name: str) -> ModelId:
        """Hashed once per model and session: a chat's replies do not re-read the file."""
        if self._model is None or self._model.path != str(path) or self._model.name != name:
            self._model = ModelId.of(path, name)
        return self._model
