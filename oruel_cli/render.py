"""Consoles and streamed rendering: Markdown live in a terminal, plain text when piped."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def out_console() -> Console:
    """stdout: colour only on a terminal and without NO_COLOR (rich honours both)."""
    from rich.console import Console

    return Console(soft_wrap=False)


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def rich_stdout() -> bool:
    """Whether replies may be rendered (a terminal, and NO_COLOR unset)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")
