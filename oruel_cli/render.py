"""Consoles and streamed rendering: Markdown live in a terminal, plain text when piped."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
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


def warn(text: str, console: Console | None = None) -> None:
    """One `warning: ...` line on stderr (or `console`), whatever the width; the
    text is text, not markup (a path's brackets stay)."""
    from rich.markup import escape

    console = console or err_console()
    console.print(f"[yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)


def rich_stdout() -> bool:
    """Whether replies may be rendered: a terminal that can move its cursor
    (not TERM=dumb, as in Emacs shells), and NO_COLOR unset."""
    dumb = os.environ.get("TERM", "").lower() in ("dumb", "unknown")
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and not dumb


@contextmanager
def quiet_terminal() -> Iterator[None]:
    """While a reply streams (or a chat command runs), keys typed are not echoed:
    the terminal would print Ctrl-C's "^C" (and type-ahead) inside the redrawn
    region, which then shows its unfinished line twice. What is typed is kept,
    byte for byte, for the next prompt: the line discipline is off too (in it a
    Ctrl-D typed ahead becomes an end of file that is gone once the prompt
    reads), and the modes change at once, without flushing the input queue.
    Ctrl-C still sends SIGINT. The terminal is stdin's, else stdout's (`ask`
    with a piped prompt)."""
    try:
        import termios

        stream = next((s for s in (sys.stdin, sys.stdout) if s is not None and s.isatty()), None)
        fd = stream.fileno() if stream is not None else -1
        saved = termios.tcgetattr(fd) if fd >= 0 else None
    except (ImportError, OSError, ValueError):
        saved = None
    if saved is None:
        yield
        return
    quiet = list(saved)
    quiet[0] &= ~(termios.ICRNL | termios.INLCR | termios.IGNCR)  # Enter stays Enter, not Ctrl-J
    quiet[3] &= ~(termios.ECHO | termios.ECHOCTL | termios.ICANON)
    quiet[6] = list(saved[6])
    quiet[6][termios.VMIN], quiet[6][termios.VTIME] = 1, 0
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def markdown(text: str):  # noqa: ANN201 - rich.markdown.Markdown
    """A reply as rich Markdown: the one way a streamed and a whole reply render."""
    return _markdown_class()(text)


@lru_cache(maxsize=1)
def _markdown_class() -> type:
    """rich's Markdown, with two changes to an ordered list's numbers: each keeps
    its dot ("1. Citrus", as written; rich prints "1 Citrus"), and they get room
    for two digits from the start: rich sizes them to the last number, so a tall
    list would shift every item right on reaching item 10, after its first lines
    were printed for good (lazy: rich's Markdown costs start-up time)."""
    from rich.markdown import ListItem, Markdown
    from rich.segment import Segment

    class _ListItem(ListItem):
        def render_number(self, console, options, number, last_number):  # noqa: ANN001, ANN201
            width = len(str(max(last_number, 10))) + 3  # digits, the dot, a space, a margin
            lines = console.render_lines(
                self.elements, options.update(width=options.max_width - width), style=self.style
            )
            style = console.get_style("markdown.item.number", default="none")
            numeral = Segment(f"{number}.".rjust(width - 1) + " ", style)
            padding = Segment(" " * width, style)
            for i, line in enumerate(lines):
                yield numeral if i == 0 else padding
                yield from line
                yield Segment("\n")

    class _Markdown(Markdown):
        elements = {**Markdown.elements, "list_item_open": _ListItem}

    return _Markdown


_FENCES = ("```", "~~~")
_LIST_ITEM = re.compile(r"([-*+]|\d{1,9}[.)])(\s|$)")


def stable_prefix(text: str) -> int:
    """How much of streamed Markdown is complete blocks that will render the same later.

    The end of a blank line outside a code fence, or of a closing fence line, is
    such a point once the next line has begun, unless that line starts with a
    space (it could continue a list item, or be an indented block) or a list
    marker (a list split in two renders as two lists). What lies before it can
    be printed once for good; only the rest needs redrawing.
    """
    cut = 0
    fence: str | None = None
    pos = 0
    candidate: int | None = None

    def take(next_line: str) -> None:
        nonlocal cut
        if candidate is None or next_line[:1].isspace() or _LIST_ITEM.match(next_line):
            return
        if not next_line.endswith("\n") and next_line.isdigit():
            return  # "3" may yet become "3. item"
        cut = candidate

    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        if candidate is not None and line.strip():
            take(line)
            candidate = None
        stripped = line.lstrip(" ")
        marker = next((f for f in _FENCES if stripped.startswith(f)), None)
        end = pos + len(line)
        if fence is None and marker and len(line) - len(stripped) <= 3:
            fence = marker
        elif fence is not None and marker == fence and not stripped.strip(" `~\n"):
            fence, candidate = None, end
        elif fence is None and not line.strip():
            candidate = end
        pos = end
    if candidate is not None and text[pos:].strip():
        take(text[pos:])
    return cut


class _Lines:
    """Rendered lines (lists of segments), as a renderable."""

    def __init__(self, lines: list) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: object):  # noqa: ANN201
        from rich.segment import Segment

        for line in self.lines:
            yield from line
            yield Segment.line()


class MarkdownStream:
    """Streams a reply: Markdown on a terminal, raw text writes when piped.

    On a terminal, finished Markdown blocks (and lines of a block taller than
    the screen) are printed once for good; only the rest stays in a rich Live
    region, redrawn at most `fps` times a second. So a reply taller than the
    screen is never reprinted, the result reads exactly as the whole reply
    rendered at once, and a frame costs O(tail) rather than O(reply) per token
    (re-rendering the whole reply each token slowed decoding by ~9%).
    """

    BUDGET = 0.03  # the share of wall time that drawing may take
    MAX_INTERVAL = 1.0  # seconds between frames, at most

    def __init__(self, console: Console | None = None, fps: float = 8.0) -> None:
        self.text = ""
        self.thought = ""
        self.thought_shown = False  # all of the thinking was shown (`think(show=True)`)
        self._parted = False
        self.done = 0  # characters of `text` printed for good
        self.shown = 0  # lines of the current tail's rendering printed for good
        self.min_interval = self.interval = 1.0 / fps
        self.last = 0.0
        self.frames = 0  # frames of the answer drawn
        self.console = console or (out_console() if rich_stdout() else None)
        self.live = None
        if self.console is not None:
            from rich.live import Live

            self.live = Live(console=self.console, auto_refresh=False, vertical_overflow="visible")
            self.live.start()

    FOLD = 3  # lines of thinking shown while it streams, unless all is asked for

    def think(self, text: str, show: bool = False) -> None:
        """Thinking, before the answer. In a terminal it is drawn dim while it
        streams (its last few lines; with `show` all that fits), and with
        `show` printed whole for good once the answer starts; otherwise it is
        gone then. Piped, it is written only with `show`, a blank line before
        the answer."""
        self.thought += text
        self.thought_shown = self.thought_shown or (show and bool(text))
        if self.live is None:
            if show:
                sys.stdout.write(text)
                sys.stdout.flush()
            return
        if not self.text and time.monotonic() - self.last >= self.interval:
            from rich.text import Text

            assert self.console is not None
            room = self.FOLD if not show else max(self.console.height - 2, 4)
            lines = self.thought.strip().splitlines()[-room:]
            width = max(self.console.width - 1, 10)
            folded = "\n".join(line[:width] for line in lines)
            self.live.update(Text(folded, style="dim italic"), refresh=True)
            self.last = time.monotonic()

    def _end_thought(self) -> None:
        """The thinking is over: print it for good when it was to be shown."""
        if self._parted or not self.thought:
            return
        self._parted = True
        if not self.thought_shown:
            return
        if self.live is None:
            sys.stdout.write("\n\n")
            return
        from rich.text import Text

        assert self.console is not None
        self.live.update(Text(""), refresh=True)
        self.console.print(Text(self.thought.strip(), style="dim"))
        self.console.print()

    def add(self, text: str) -> None:
        if text:
            self._end_thought()
        self.text += text
        if self.live is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        now = time.monotonic()
        if now - self.last >= self.interval:
            first = self.frames == 0
            self._draw(final=False)
            self.last = time.monotonic()
            # a frame of a long unfinished block (a big code block) can take 20 ms:
            # draw less often then, so that rendering stays within ~3% of the time.
            # Not after the first frame (it loads the Markdown renderer, ~70 ms),
            # and never under one frame a second
            if not first:
                cost = (self.last - now) / self.BUDGET
                self.interval = min(max(self.min_interval, cost), self.MAX_INTERVAL)

    def _render(self, text: str) -> list:
        """Markdown to lines, without the blank lines rich puts before some blocks."""
        assert self.console is not None
        lines = self.console.render_lines(markdown(text), self.console.options, pad=False)
        while lines and not "".join(seg.text for seg in lines[0]):
            lines.pop(0)
        while lines and not "".join(seg.text for seg in lines[-1]):
            lines.pop()
        return lines

    def _draw(self, final: bool) -> None:
        assert self.live is not None and self.console is not None
        self.frames += 1
        done: list = []
        cut = self.done + stable_prefix(self.text[self.done :])
        if cut > self.done:
            done = self._render(self.text[self.done : cut])[self.shown :] + [[]]
            self.done, self.shown = cut, 0
        tail = self._render(self.text[self.done :])
        room = max(self.console.height - 2, 4)
        if len(tail) - self.shown > room:
            # a block taller than the screen: its first lines no longer change.
            # The live region stays within the screen, the last frame too (Live
            # draws it again on stop, and lines scrolled off cannot be erased)
            upto = len(tail) - (room if final else room // 2)
            done += tail[self.shown : upto]
            self.shown = upto
        # refresh first: a print goes above the live region and redraws the frame last drawn
        self.live.update(_Lines(tail[self.shown :]), refresh=True)
        if done:
            self.console.print(_Lines(done), end="")

    def close(self) -> None:
        if not self.text and self.thought_shown and self.live is not None:
            self._end_thought()  # a reply that never got past its thinking
        if self.live is not None:
            self._draw(final=True)
            self.live.stop()
        elif (out := self.text or self.thought * self.thought_shown) and not out.endswith("\n"):
            sys.stdout.write("\n")
            sys.stdout.flush()
