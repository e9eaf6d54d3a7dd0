"""Reading a text file a chat command names (/read, /load): one message per
failure, naming the command and the file."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError


def read_text_file(text: str, command: str = "/read") -> tuple[Path, str]:
    """A UTF-8 text file named on a command line; each failure names it."""
    name = text.strip()
    if not name:
        raise UsageError(f"{command} needs a file name")
    if len(name) > 1 and name[0] == name[-1] and name[0] in "'\"":
        name = name[1:-1]
    path = Path(name).expanduser()
    if path.is_dir():
        raise UsageError(f"{command} {path}: is a directory, not a file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{command} {path}: no such file") from None
    except OSError as e:
        raise UsageError(f"{command} {path}: cannot read: {e.strerror}") from None
    try:
        return path, data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(
            f"{command} {path}: not UTF-8 text (byte {e.start} is 0x{data[e.start]:02x}; "
            "a binary file?)"
        ) from None
