"""Where a batch job's records go, and how they get there.

- ``default_output``: ``jobs.jsonl`` -> ``jobs.results.jsonl`` beside it.
- ``prepare_output``: the overwrite/resume rules, applied before anything
  runs. ``--resume`` rewrites the output atomically (temporary file in the
  same folder, fsync, ``os.replace``, fsync of the folder), keeping the first
  whole success record of each id and dropping error records, a torn last line
  and anything that is not a JSON object; it returns the ids already done.
- ``ResultWriter``: appends each record as one line, in one ``write`` call on
  an ``O_APPEND`` descriptor, then fsyncs; a kill can tear only the last line,
  which the next ``--resume`` drops.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from ..api.body import loads_strict
from ..errors import UsageError
from .records import record_id, record_ok

STDOUT = "-"


def default_output(input: Path) -> Path:
    """``STEM.results.jsonl`` beside the input: ``jobs.jsonl`` -> ``jobs.results.jsonl``;
    a name without ``.jsonl`` keeps it whole: ``jobs.txt`` -> ``jobs.txt.results.jsonl``."""
    input = Path(input)
    name = input.name
    stem = name[: -len(".jsonl")] if name.lower().endswith(".jsonl") and len(name) > 6 else name
    return input.with_name(f"{stem}.results.jsonl")


def prepare_output(
    path: Path | None,
    resume: bool,
    overwrite: bool,
    *,
    input_path: Path | None = None,
) -> set[str]:
    """Apply the rules for an output before the job runs; return the ids that
    already have a success record (non-empty only with ``resume``).

    ``path`` None (or ``-``) is stdout. Every refusal is a ``UsageError``
    (exit 2) and leaves the file as it was. ``input_path``, when given, guards
    against the output being the input file itself.
    """
    if resume and overwrite:
        raise UsageError("--resume and --overwrite cannot be used together; choose one")
    if path is None or str(path) == STDOUT:
        if resume:
            raise UsageError(
                "--resume needs an output file (-o PATH); the records of a job written to "
                "stdout cannot be read back"
            )
        return set()
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"output path is a folder: {path}")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"output folder not found: {parent}")
    if input_path is not None and path.exists() and _same_file(path, Path(input_path)):
        raise UsageError(f"the output file is the input file: {path}; choose another -o PATH")
    if not path.exists():
        return set()
    if not (resume or overwrite):
        raise UsageError(
            f"output file exists: {path}; use --resume to complete the job or "
            f"--overwrite to start again"
        )
    target = Path(os.path.realpath(path))
    if overwrite:
        _atomic_rewrite(target, lambda out: None)
        return set()
    done: set[str] = set()
    _atomic_rewrite(target, lambda out: _keep_successes(target, out, done))
    return done


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _keep_successes(src: Path, out: BinaryIO, done: set[str]) -> None:
    """Copy the first whole success record of each id from src to out (streaming)."""
    with open(src, "rb") as f:
        for raw in f:
            body = raw.rstrip(b"\r\n")
            if not body.strip():
                continue
            try:
                record = loads_strict(body.decode("utf-8"))
            except (ValueError, RecursionError):  # torn, not UTF-8, not JSON
                continue
            if not record_ok(record):
                continue
            rid = record_id(record)
            if rid is None or rid in done:
                continue
            done.add(rid)
            out.write(body + b"\n")


def _atomic_rewrite(target: Path, fill: Any) -> None:
    """Replace target by what ``fill(file)`` writes: temp file beside it, fsync,
    os.replace, fsync of the folder. On any failure target is untouched."""
    folder = target.parent
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        raise UsageError(f"cannot write in {folder}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise UsageError(f"cannot rewrite {target}: {e.strerror or e}") from None
        raise
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:  # not possible everywhere (Windows)
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def encode_record(record: dict[str, Any]) -> bytes:
    """One record as one UTF-8 JSON line (with its newline).

    Text that UTF-8 cannot hold (a lone surrogate from a ``\\ud800`` escape in
    the input) falls back to ASCII escapes, so the line is still valid JSON.
    NaN and Infinity are refused (``ValueError``): they are not JSON.
    """
    text = json.dumps(record, ensure_ascii=False, allow_nan=False)
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(record, ensure_ascii=True, allow_nan=False) + "\n").encode("ascii")


class ResultWriter:
    """Append records to the output, one whole line per record, flushed and fsynced.

    ``path`` None (or ``-``) writes to stdout (flushed; fsynced when stdout is
    a file). Safe to call from several threads.
    """

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.path = None if path is None or str(path) == STDOUT else Path(path)
        if self.path is not None:
            try:
                self._fd = os.open(
                    self.path,
                    os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0),
                    0o644,
                )
            except OSError as e:
                raise UsageError(
                    f"cannot write output file {self.path}: {e.strerror or e}"
                ) from None
        self.count = 0

    def write(self, record: dict[str, Any]) -> None:
        data = encode_record(record)
        with self._lock:
            if self._fd is not None:
                _write_all(self._fd, data)
                os.fsync(self._fd)
            else:
                _write_stdout(data)
            self.count += 1

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            elif self.path is None:
                with contextlib.suppress(OSError, ValueError):
                    sys.stdout.flush()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _write_all(fd: int, data: bytes) -> None:
    """One write call for the line (a regular file takes it whole); loop only on a
    short write (disk full, signal) so no line is ever left half-written by us."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _write_stdout(data: bytes) -> None:
    out = sys.stdout
    buffer = getattr(out, "buffer", None)
    if buffer is not None:
        out.flush()  # keep the order with text written before
        buffer.write(data)
        buffer.flush()
    else:
        out.write(data.decode("utf-8"))
        out.flush()
    with contextlib.suppress(OSError, ValueError, AttributeError):
        fileno = out.fileno()
        if stat.S_ISREG(os.fstat(fileno).st_mode):
            os.fsync(fileno)
