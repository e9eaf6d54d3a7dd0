"""`oruel logs on` / `off`: the config's `log` key, written into the user's file.

The file is edited as text, so its comments, order and layout stay as they
were: a top-level `log:` line is replaced, or one is appended. The result is
parsed again and must equal the old mapping with only `log` changed; when it
cannot (a flow-style or otherwise unusual file), nothing is written and the
user is told which line to add. Written atomically (temporary file, rename).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from ..errors import RuntimeFailure, UsageError

_LOG_LINE = re.compile(r"^log[ \t]*:.*$", re.M)


def set_logging(on: bool, path: Path | None = None) -> Path:
    """Write `log: true|false` into the config file (created if missing); returns its path."""
    from ..config import config_path, load_yaml_mapping

    path = path or config_path()
    line = f"log: {'true' if on else 'false'}"
    old = load_yaml_mapping(path, "config file") if path.exists() else {}
    old_text = path.read_text(encoding="utf-8") if path.exists() else ""
    if _LOG_LINE.search(old_text):
        new_text = _LOG_LINE.sub(line, old_text, count=1)
    else:
        sep = "" if not old_text or old_text.endswith("\n") else "\n"
        new_text = f"{old_text}{sep}{line}\n"
    if _parse(new_text) != {**old, "log": on}:
        raise UsageError(
            f"config file {path}: cannot set the log key in this file's layout; "
            f"add the line `{line}` to it by hand"
        )
    try:
        _write_atomic(path, new_text)
    except OSError as e:
        raise RuntimeFailure(f"config file {path}: cannot write: {e.strerror}") from None
    return path


def _parse(text: str) -> object:
    import yaml

    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
