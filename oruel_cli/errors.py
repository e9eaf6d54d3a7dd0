"""The two kinds of failure a user sees, each tied to its exit code: 2 for a usage error, 1 for a
runtime failure, 130 when interrupted."""

from __future__ import annotations


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
