"""A batch job as one row of the log, written when `oruel run` ends.

The input is identified by its SHA-256 (read once more at the end, in 1 MiB
chunks: the file is streamed, never held whole); the status is `completed`
(every line ok), `failed` (some lines failed: exit 1) or `interrupted`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..render import warn
from .record import ModelId, params_with_sources, to_json
from .store import LogStore, LogUnavailable, write_transaction
from .writer import logging_enabled

if TYPE_CHECKING:
    from ..config import Config
    from ..params.layering import Effective


def log_job(
    config: Config,
    no_log: bool,
    input_path: Path,
    output_path: Path | None,
    model_path: Path | str,
    effective: Effective,
    parallel: int,
    stats: Any,
    store: LogStore | None = None,
) -> int | None:
    """Log a finished (or interrupted) job from its JobStats; one warning if it cannot be."""
    if not logging_enabled(config, no_log):
        return None
    try:
        values = _values(input_path, output_path, model_path, effective, parallel, stats)
        return (store or LogStore()).run(_inserter(values))
    except LogUnavailable as e:
        warn(f"{e}; this job is not logged")
    except Exception as e:  # the job's own outcome and exit code come first
        warn(f"this job is not logged ({type(e).__name__}: {e})")
    return None


def _values(
    input_path: Path,
    output_path: Path | None,
    model_path: Path | str,
    effective: Effective,
    parallel: int,
    stats: Any,
) -> tuple[Any, ...]:
    ended = time.time()
    status = "interrupted" if stats.interrupted else "failed" if stats.failed else "completed"
    model = ModelId.of(model_path)
    return (
        ended - stats.elapsed, ended, status, str(Path(input_path).absolute()),
        file_sha256(input_path), str(Path(output_path).absolute()) if output_path else None,
        model.name, model.path, model.size, model.head_sha256,
        to_json(params_with_sources(effective)), parallel,
        stats.done, stats.ok, stats.failed, stats.skipped,
        stats.prompt_tokens, stats.completion_tokens,
    )  # fmt: skip


def _inserter(values: tuple[Any, ...]) -> Callable[[sqlite3.Connection], int]:
    def insert(conn: sqlite3.Connection) -> int:
        with write_transaction(conn):
            cur = conn.execute(
                "INSERT INTO jobs (started, ended, status, input_path, input_sha256, "
                "output_path, model_name, model_path, model_size, model_head_sha256, params, "
                "parallel, total, ok, failed, skipped, prompt_tokens, completion_tokens) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            return int(cur.lastrowid)

    return insert


def file_sha256(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def job_object(row: sqlite3.Row) -> dict[str, Any]:
    """One job as `logs --jobs --json` gives it."""
    from .query import iso_time

    return {
        "id": row["id"],
        "started": iso_time(row["started"]),
        "ended": iso_time(row["ended"]),
        "status": row["status"],
        "input": {"path": row["input_path"], "sha256": row["input_sha256"]},
        "output": row["output_path"],
        "model": {
            "name": row["model_name"],
            "path": row["model_path"],
            "size": row["model_size"],
            "head_sha256": row["model_head_sha256"],
        },
        "parallel": row["parallel"],
        "counts": {k: row[k] for k in ("total", "ok", "failed", "skipped")},
        "usage": {k: row[k] for k in ("prompt_tokens", "completion_tokens")},
        "params": json.loads(row["params"]),
    }
