"""Showing a sweep's replies side by side.

In a terminal at least WIDE columns wide, the replies sit in columns (as many
a row as leave each at least COLUMN_MIN characters, rows balanced: 4 replies
at 160 columns are one row of 4, at 100 two rows of 2); narrower, they come
one after another, each full width, where a reply is still readable. Each is
headed by the values that set it apart. While the batch runs, the same
layout streams in place (plain text, cropped to the screen), and is replaced
by the finished replies rendered as Markdown. Piped, or with NO_COLOR, each
reply is plain text under a `=== heading ===` line.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..render import err_console, markdown, out_console, rich_stdout
from .plan import Headings, Variant, heading

WIDE = 100  # columns from which replies sit side by side
COLUMN_MIN = 38  # the narrowest a reply's column may be


def per_row(n: int, width: int) -> int:
    """Replies a row: 1 below WIDE, else as many as fit COLUMN_MIN, balanced."""
    if width < WIDE or n == 1:
        return 1
    fit = max(1, min(n, width // COLUMN_MIN))
    rows = -(-n // fit)
    return -(-n // rows)


def _title(variants: list[Variant], prompt: str, model: str) -> Text:
    t = Text()
    t.append(f"{len(variants)} variants", style="bold")
    t.append(" · one batch · ", style="dim")
    t.append(model, style="dim")
    t.append("\nprompt: ", style="dim")
    t.append(prompt if len(prompt) <= 200 else prompt[:199] + "…", style="italic")
    return t


def layout(
    variants: list[Variant],
    names: Headings,
    bodies: list[RenderableType],
    subtitles: list[Text | None],
    width: int,
) -> RenderableType:
    """The replies under their headings, side by side or one after another."""
    heads = [
        (
            Text(heading(v, names.swept), style="bold"),
            Text(heading(v, names.implied), style="dim") if names.implied else None,
        )
        for v in variants
    ]
    return columns(heads, bodies, subtitles, width)


Head = tuple[Text, Text | None]  # a heading, and a dimmer line under it


def columns(
    heads: list[Head],
    bodies: list[RenderableType],
    footers: list[Text | None],
    width: int,
) -> RenderableType:
    """Side by side (`per_row` a row, each row one table, so that the boxes of a
    row line up), or, below WIDE, one after another: a ruled heading, the body,
    its footer, with no boxes to eat the width. The --demo's generations use
    it too."""
    from rich import box
    from rich.padding import Padding
    from rich.rule import Rule

    k = per_row(len(heads), width)
    if k == 1:
        parts: list[RenderableType] = []
        for (title, detail), body, foot in zip(heads, bodies, footers, strict=True):
            parts.append(Rule(title, align="left", style="blue"))
            if detail is not None:
                parts.append(Padding(detail, (0, 0, 0, 1)))
            parts.append(Padding(body, (0, 0, 0, 1)))
            if foot is not None:
                parts.append(Padding(foot, (0, 0, 1, 1)))
        return Group(*parts)
    tables = []
    for i in range(0, len(heads), k):
        table = Table(box=box.ROUNDED, expand=True, show_footer=True, padding=(0, 1),
                      header_style="", footer_style="")  # fmt: skip
        for (title, detail), foot in zip(heads[i : i + k], footers[i : i + k], strict=True):
            head = title if detail is None else Text.assemble(title, "\n", detail)
            table.add_column(head, ratio=1, footer=foot or "")
        for _ in range(k - len(heads[i : i + k])):  # the last row keeps the column width
            table.add_column("", ratio=1, footer="")
        row = list(bodies[i : i + k])
        table.add_row(*row, *([""] * (k - len(row))))
        tables.append(table)
    return Group(*tables)


def _subtitle(comp: Any) -> Text:
    style = "dim" if comp.finish_reason in ("stop", "length", "tool_calls") else "red"
    return Text(f"{comp.completion_tokens} tokens · finish {comp.finish_reason}", style=style)


def replies(variants: list[Variant], names: Headings, comps: list[Any]) -> None:
    """The finished replies: rendered side by side in a terminal, plain when piped."""
    if not rich_stdout():
        for v, c in zip(variants, comps, strict=True):
            print(f"=== {heading(v, names.swept)} ===")
            if names.implied:
                print(f"    {heading(v, names.implied)}")
            print(_plain(c))
            print()
        return
    console = out_console()
    bodies: list[RenderableType] = [
        markdown(_plain(c)) if c.content else Text(_plain(c), style="dim") for c in comps
    ]
    console.print(layout(variants, names, bodies, [_subtitle(c) for c in comps], console.width))


def _plain(comp: Any) -> str:
    import json

    text = comp.content or ""
    for call in comp.tool_calls:
        fn = call["function"]
        args = json.loads(fn["arguments"])
        text += ("\n" if text else "") + json.dumps({"name": fn["name"], "arguments": args})
    if comp.error:
        text += ("\n" if text else "") + f"(failed: {comp.error})"
    return text or "(empty)"


def stats(comps: list[Any], seconds: float) -> None:
    tokens = sum(c.completion_tokens for c in comps)
    rate = tokens / seconds if seconds > 0 else 0.0
    prompt = comps[0].prompt_tokens if comps else 0
    err_console().print(
        f"[dim]{len(comps)} replies in one batch · {tokens} tokens · {seconds:.1f} s · "
        f"{rate:.1f} tok/s together · prompt {prompt} tokens[/]",
        highlight=False,
    )


class LiveSweep:
    """The replies streaming in place while the batch runs (a terminal only)."""

    FPS = 6.0

    def __init__(self, variants: list[Variant], names: Headings, console: Console) -> None:
        from rich.live import Live

        self.variants = variants
        self.names = names
        self.console = console
        self.last = 0.0
        self.live = Live(console=console, auto_refresh=False, transient=True,
                         vertical_overflow="crop")  # fmt: skip
        self.live.start()

    @classmethod
    def start(
        cls, variants: list[Variant], names: Headings, prompt: str, model: str
    ) -> LiveSweep | None:
        if not rich_stdout():
            return None
        console = out_console()
        console.print(_title(variants, prompt, model))  # stays above the live region
        return cls(variants, names, console)

    def update(self, texts: list[str], finishes: list[Any]) -> None:
        now = time.monotonic()
        if now - self.last < 1.0 / self.FPS:
            return
        self.last = now
        bodies = [Text(t or "…", style="" if t else "dim") for t in texts]
        subs = [Text("done" if f is not None else "generating…", style="dim") for f in finishes]
        self.live.update(
            layout(self.variants, self.names, bodies, subs, self.console.width), refresh=True
        )

    def stop(self) -> None:
        self.live.stop()
        sys.stdout.flush()
