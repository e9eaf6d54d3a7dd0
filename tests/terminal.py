"""A terminal emulator for tests (pyte): what a screen shows after some output."""

from __future__ import annotations

import pytest


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
