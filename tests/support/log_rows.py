"""Reply rows for the log tests that need no model: what ask would log, built by hand."""

from __future__ import annotations

import time
from typing import Any

from oruel_cli.logs.record import ModelId, ReplyRow, new_conversation_id
from oruel_cli.logs.store import LogStore, write_transaction
from oruel_cli.params.layering import Layer, merge

MODEL = ModelId("tiny-model", "/models/tiny-model.gguf", 1234, "ab" * 32)


def make_row(
    prompt: str = "Tell me about foxes.",
    reply: str | None = "Foxes are small omnivores.",
    conversation_id: str | None = None,
    command: str = "ask",
    when: float | None = None,
    model: ModelId = MODEL,
    flags: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
) -> ReplyRow:
    effective = merge(
        [
            Layer("preset", {"top_p": 0.9, "temperature": 0.5}, "qa"),
            Layer("flag", flags if flags is not None else {"temperature": 0.0}),
        ]
    )
    from oruel_cli.logs.record import params_with_sources

    return ReplyRow(
        conversation_id=conversation_id or new_conversation_id(),
        command=command,
        model=model,
        messages=[*(history or []), {"role": "user", "content": prompt}],
        system=None,
        reply=reply,
        tool_calls=None,
        finish_reason="stop",
        prompt_tokens=10,
        completion_tokens=5,
        first_token_seconds=0.1,
        total_seconds=0.5,
        params=params_with_sources(effective),
        completion_id="chatcmpl-test",
        time=when if when is not None else time.time(),
    )


def insert(row: ReplyRow, store: LogStore | None = None) -> int:
    """Write one row as the log does (its own transaction); returns its id."""

    def go(conn: Any) -> int:
        with write_transaction(conn):
            return row.insert(conn)

    out = (store or LogStore()).run(go)
    assert out is not None
    return out


def count(store: LogStore | None = None, table: str = "replies") -> int:
    got = (store or LogStore()).run(
        lambda c: c.execute(f"SELECT count(*) FROM {table}").fetchone()[0], create=False
    )
    return int(got or 0)
