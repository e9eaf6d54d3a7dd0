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


class Interrupted(OruelError):
    """Ctrl-C or SIGTERM stopped the command: exit 130."""

    exit_code = 130
