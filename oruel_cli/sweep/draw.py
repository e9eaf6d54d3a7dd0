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
    """Rows of replies, each row one table so that its boxes line up; or, when
    narrow, one box a reply."""
    from rich import box

    k = per_row(len(variants), width)
    if k == 1:
        return _stacked(variants, names, bodies, subtitles)
    tables = []
    for i in range(0, len(variants), k):
        table = Table(box=box.ROUNDED, expand=True, show_footer=True, show_lines=False,
                      padding=(0, 1), header_style="bold", footer_style="")  # fmt: skip
        for v, sub in zip(variants[i : i + k], subtitles[i : i + k], strict=True):
            table.add_column(_head(v, names), ratio=1, footer=sub or "")
        for _ in range(k - len(variants[i : i + k])):  # the last row keeps the column width
            table.add_column("", ratio=1, footer="")
        row = list(bodies[i : i + k])
        table.add_row(*row, *([""] * (k - len(row))))
        tables.append(table)
    return Group(*tables)


def _stacked(
    variants: list[Variant],
    names: Headings,
    bodies: list[RenderableType],
    subtitles: list[Text | None],
) -> RenderableType:
    """Narrow: a ruled heading, the reply, its finish line; no boxes to eat the width."""
    from rich.padding import Padding
    from rich.rule import Rule

    parts: list[RenderableType] = []
    for v, body, sub in zip(variants, bodies, subtitles, strict=True):
        parts.append(Rule(Text(heading(v, names.swept), style="bold"), align="left", style="blue"))
        if names.implied:
            parts.append(Padding(Text(heading(v, names.implied), style="dim"), (0, 0, 0, 1)))
        parts.append(Padding(body, (0, 0, 0, 1)))
        if sub is not None:
            parts.append(Padding(sub, (0, 0, 1, 1)))
    return Group(*parts)


def _head(v: Variant, names: Headings) -> Text:
    t = Text(heading(v, names.swept), style="bold")
    if names.implied:
        t.append("\n" + heading(v, names.implied), style="dim")
    return t


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
