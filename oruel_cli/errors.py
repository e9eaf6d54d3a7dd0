"""The two kinds of failure a user sees, each tied to its exit code: 2 for a usage error, 1 for a
runtime failure, 130 when interrupted; and reading a file the user named, whose failures
are theirs to fix (exit 2)."""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: errors is imported at start-up
if TYPE_CHECKING:
    from pathlib import Path


class OruelError(Exception):
    """An error shown to the user as one message, never a traceback."""

    exit_code = 1


class UsageError(OruelError):
    """Bad flag, value, name or file the user gave: exit 2."""

    exit_code = 2


class RuntimeFailure(OruelError):
    """A model file or generation failed: exit 1."""

    exit_code = 1


class ContextTooLong(RuntimeFailure):
    """A prompt that leaves no room for a reply in its sequence (exit 1); callers
    that can shorten it (chat's history) or answer for it (serve's 400) catch
    this type."""

    def __init__(self, tokens: int, ctx: int) -> None:
        self.tokens = tokens  # the prompt's
        self.ctx = ctx  # tokens per sequence
        super().__init__(
            f"the prompt is {tokens} tokens; it does not fit the context of "
            f"{ctx} tokens per sequence (raise --ctx, or shorten the prompt)"
        )


class Interrupted(OruelError):
    """Ctrl-C or SIGTERM stopped the command: exit 130."""

    exit_code = 130


def read_user_text(path: Path, what: str, kind: str) -> str:
    """The text of a file the user gave, read as UTF-8.

    A file that cannot be read, or is not UTF-8 (a binary file, a Latin-1 one),
    is the user's bad input, not a crash: exit 2, one line that names `what`
    and the file and says it is not UTF-8 `kind` text (e.g. "YAML").
    """
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"{what} {path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise UsageError(
            f"{what} {path}: not UTF-8 {kind} text (byte 0x{e.object[e.start]:02x} "
            f"at offset {e.start})"
        ) from None
