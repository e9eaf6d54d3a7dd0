"""Carrying a logged conversation on (`ask -c`, `--cid ID`; chat's the same).

A conversation's state is its last logged reply: the messages sent then, plus
that reply, are the history sent before the next prompt; its system prompt
carries on unless --system is given; its model unless --model is given.

Its parameters carry on under this command's flags, as the layer "conversation
<id>" between the preset and the flags: the values that were not defaults or
the config's (those come from the config again). Given --preset now, the values
the old preset set are dropped, so the new preset applies.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OruelError, UsageError
from ..render import warn
from .store import LogStore, LogUnavailable, write_transaction

if TYPE_CHECKING:
    from ..params.layering import Layer

CONTINUABLE = ("ask", "chat")  # `-c` carries on these, not batch lines or server requests


@dataclass
class Conversation:
    id: str | None  # None: a new conversation (the log gives it an id on its first reply)
    messages: list[dict[str, Any]] = field(default_factory=list)  # ends with the last reply
    system: str | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {value, source}
    model_path: str | None = None
    name: str | None = None

    def carried_values(self, preset_given: bool = False) -> dict[str, Any]:
        """The parameters that carry on (see the module's docstring), valid ones only."""
        from ..params.model import PARAM_NAMES
        from ..params.values import validate_params

        out: dict[str, Any] = {}
        for name, entry in self.params.items():
            source = str(entry.get("source", "default"))
            if source == "default" or source.startswith("config"):
                continue
            if preset_given and source.startswith("preset"):
                continue
            if name not in PARAM_NAMES or entry.get("value") is None:
                continue
            try:
                validate_params({name: entry["value"]})
            except OruelError as e:  # a log from another version: say it, keep the rest
                warn(f"conversation {self.id}: {name} does not carry on: {e}")
                continue
            out[name] = entry["value"]
        return out

    def layer(self, preset_given: bool = False) -> Layer | None:
        """The carried parameters as the "conversation <id>" layer, or None."""
        from ..params.layering import Layer

        values = self.carried_values(preset_given)
        return Layer("conversation", values, self.id or "") if values else None

    def model(self, model_flag: str | None) -> str | None:
        """--model if given, else the conversation's model file while it exists."""
        if model_flag or not self.model_path:
            return model_flag
        if Path(self.model_path).is_file():
            return self.model_path
        warn(f"conversation {self.id}: its model {self.model_path} is gone; using the default")
        return None


def load_conversation(cid: str | None = None, store: LogStore | None = None) -> Conversation | None:
    """The latest ask or chat conversation (`cid` None), or the one whose id or name
    is `cid`; None when there is none. Raises LogUnavailable when the log cannot
    be read."""
    store = store or LogStore()

    def read(conn: sqlite3.Connection) -> Conversation | None:
        if cid is None:
            marks = ",".join("?" * len(CONTINUABLE))
            found = conn.execute(
                f"SELECT conversation_id FROM replies WHERE command IN ({marks}) "
                "ORDER BY id DESC LIMIT 1",
                CONTINUABLE,
            ).fetchone()
        else:
            found = conn.execute(
                "SELECT id FROM conversations WHERE id = ? OR name = ? "
                "ORDER BY id = ? DESC LIMIT 1",
                (cid, cid, cid),
            ).fetchone()
        if found is None:
            return None
        conv_id = found[0]
        last = conn.execute(
            "SELECT r.*, c.name AS conversation_name FROM replies r "
            "JOIN conversations c ON c.id = r.conversation_id "
            "WHERE r.conversation_id = ? ORDER BY r.id DESC LIMIT 1",
            (conv_id,),
        ).fetchone()
        return _from_row(last) if last is not None else Conversation(conv_id)

    return store.run(read, create=False)


def name_conversation(cid: str, name: str, store: LogStore | None = None) -> None:
    """Give a logged conversation a name that --cid accepts in place of its id
    (chat's /save could use it). A name is unique: one already taken, or an
    unknown conversation, is exit 2. Raises LogUnavailable when the log cannot
    be written."""
    if not name.strip():
        raise UsageError("a conversation's name cannot be empty")

    def rename(conn: sqlite3.Connection) -> int:
        with write_transaction(conn):
            taken = conn.execute(
                "SELECT id FROM conversations WHERE name = ? AND id != ?", (name, cid)
            ).fetchone()
            if taken:
                raise UsageError(f"conversation {taken[0]} is already named {name!r}")
            return conn.execute(
                "UPDATE conversations SET name = ? WHERE id = ?", (name, cid)
            ).rowcount

    if not (store or LogStore()).run(rename, create=False):
        raise UsageError(f"no conversation {cid!r} in the log (see `oruel logs`)")


def carry_on(latest: bool, cid: str | None) -> Conversation:
    """What ask (or chat) starts from: `--cid` ID's conversation, the latest with
    `latest` (-c), else a new one. A missing --cid is exit 2; -c with nothing
    logged, or a log that cannot be read, starts a new one with a notice."""
    if cid is None and not latest:
        return Conversation(None)
    try:
        conv = load_conversation(cid)
    except LogUnavailable as e:
        warn(f"{e}; starting a new conversation")
        return Conversation(None)
    except (ValueError, KeyError, TypeError) as e:  # a row this version cannot read
        warn(f"the logged conversation cannot be read ({e}); starting a new one")
        return Conversation(None)
    if conv is None and cid is not None:
        raise UsageError(f"no conversation {cid!r} in the log (see `oruel logs`)")
    if conv is None:
        warn("no conversation in the log to carry on; starting a new one")
        return Conversation(None)
    return conv


def _from_row(row: sqlite3.Row) -> Conversation:
    messages = json.loads(row["messages"])
    reply: dict[str, Any] = {"role": "assistant", "content": row["reply"]}
    if row["tool_calls"]:
        reply["tool_calls"] = json.loads(row["tool_calls"])
    return Conversation(
        id=row["conversation_id"],
        messages=[*messages, reply],
        system=row["system"],
        params=json.loads(row["params"]),
        model_path=row["model_path"],
        name=row["conversation_name"],
    )
