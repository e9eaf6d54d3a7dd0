"""Terminals for tests: the environment of a real one, and an emulator (pyte)
for what a screen shows after some output."""

from __future__ import annotations

import os

import pytest

# What decides whether rich (and any program) colours and styles its output,
# besides isatty(): these come from the caller's shell and must not leak into a
# test that needs a real terminal (a caller with TERM=dumb or NO_COLOR=1).
COLOR_VARS = ("TERM", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE",
              "COLORTERM", "COLUMNS", "LINES")  # fmt: skip


def terminal_env(rows: int = 24, columns: int = 80, **extra: str) -> dict[str, str]:
    """The caller's environment as a colour terminal of `rows` x `columns` shows it:
    TERM=xterm-256color, no NO_COLOR or FORCE_COLOR, then `extra` (e.g. NO_COLOR="1")."""
    env = {k: v for k, v in os.environ.items() if k not in COLOR_VARS}
    env.update(TERM="xterm-256color", LINES=str(rows), COLUMNS=str(columns))
    env.update(extra)
    return env


def replay(raw: str, width: int, height: int, tty: bool = False) -> list[str]:
    """The lines a `width` x `height` terminal shows after `raw`, scrollback
    included, right-stripped, without trailing blank lines. `tty`: raw came
    through a pty (already "\\r\\n"); else "\\n" is taken as a pty shows it."""
    pyte = pytest.importorskip("pyte")
    screen = pyte.HistoryScreen(width, height, history=100_000)
    if not tty:
        screen.set_mode(pyte.modes.LNM)
    pyte.Stream(screen).feed(raw)
    rows = ["".join(r[x].data for x in sorted(r)) for r in screen.history.top] + screen.display
    lines = [r.rstrip() for r in rows]
    while lines and not lines[-1]:
        lines.pop()
    return lines
