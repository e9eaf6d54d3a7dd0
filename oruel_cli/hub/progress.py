"""A pull's progress on stderr: a rich bar in a terminal (bytes, speed, time left),
like `oruel run`'s; a plain line every few seconds when stderr is piped."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from ..models.gguf import format_size

if TYPE_CHECKING:
    from rich.console import Console

LINE_EVERY = 5.0  # seconds between the plain lines
# The bar's fixed columns: "pull", "98.4/98.4 MB", "2.1 MB/s", "ETA", "0:00:43" and the
# spaces between them; what is left of the terminal's width goes to the name and the bar.
FIXED_WIDTH = 43


def column_widths(width: int) -> tuple[int, int]:
    """(name, bar) widths for a terminal `width` columns wide: the line must fit, or rich
    wraps it and every refresh leaves a copy of the bar behind (seen at 70 columns)."""
    room = width - 1 - FIXED_WIDTH
    name = max(12, min(40, room - 10))
    return name, max(5, min(40, room - name))


class PullProgress:
    """One bar (or one series of lines) per file pulled."""

    def __init__(self, console: Console | None = None) -> None:
        """A bar on `console` (stderr's when it is a terminal), else plain lines."""
        self.bar = None
        self.task = None
        self.name = ""
        self.size = 0
        self.done = 0
        self.resumed = 0  # bytes already there from an interrupted pull
        self.note = ""
        self._start = 0.0
        self._last = 0.0
        self._name_width = 40
        if console is None and sys.stderr.isatty():
            from ..render import err_console

            console = err_console()
        if console is not None:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._name_width, bar_width = column_widths(console.width)
            self.bar = Progress(
                TextColumn("[bold]pull"), TextColumn("{task.description}"),
                BarColumn(bar_width=bar_width),
                DownloadColumn(), TransferSpeedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=console,
            )  # fmt: skip
            self.bar.start()

    def start(self, name: str, size: int, resumed: int = 0) -> None:
        """A file begins; `resumed` bytes of it are there already."""
        self.name, self.size, self.done, self.resumed = name, size, resumed, resumed
        self.note = ""
        self._start = self._last = time.monotonic()
        if self.bar is not None:
            self.task = self.bar.add_task(
                _short(name, self._name_width), total=size, completed=resumed
            )
        elif resumed:
            self._line(f"resuming after {format_size(resumed)}")

    def cached(self, name: str, size: int) -> None:
        """A file whose bytes are in the cache already (another REF or tool pulled them)."""
        self.start(name, size)
        self.advance(size)
        self.note = "in the cache already"

    def restart(self) -> None:
        """The hub ignored the resume: the file starts again from byte 0."""
        self.start(self.name, self.size)

    def advance(self, n: int) -> None:
        self.done += n
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=self.done)
            return
        now = time.monotonic()
        if now - self._last >= LINE_EVERY and self.done < self.size:
            self._last = now
            self._line()

    def finish(self) -> None:
        if self.bar is None:
            self._line(self.note or "done")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def _line(self, note: str = "") -> None:
        pct = 100 * self.done // self.size if self.size else 100
        elapsed = max(time.monotonic() - self._start, 1e-6)
        rate = (self.done - self.resumed) / elapsed
        text = (
            f"oruel pull: {self.name} {format_size(self.done)} of {format_size(self.size)} ({pct}%)"
        )
        if note:
            text += f", {note}"
        elif rate > 0:
            left = (self.size - self.done) / rate
            text += f", {format_size(int(rate))}/s, {left:.0f} s left"
        print(text, file=sys.stderr, flush=True)


def _short(name: str, width: int = 40) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1) :]
