"""The picture of a reply's logprobs: every token shaded by its probability, a
legend, then the best alternatives at the five least certain positions.

In a terminal (`ask --logprobs N`, chat's `/logprobs N`) the reply is drawn
shaded; piped, the reply is printed plain and the table follows as text.
"""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

Entry = dict[str, Any]

# (upper bound of the probability, legend label, style): four bands.
BANDS: tuple[tuple[float, str, str], ...] = (
    (0.10, "below 10%", "bold white on red3"),
    (0.50, "10–50%", "black on dark_orange"),
    (0.90, "50–90%", "black on yellow3"),
    (math.inf, "above 90%", ""),
)
POSITIONS = 5  # how many of the least certain positions the table lists


def prob(entry: Entry) -> float:
    return math.exp(entry["logprob"])


def band_style(p: float) -> str:
    """The style of a token whose probability is p (p < 0.10 is the first band)."""
    return next(style for bound, _, style in BANDS if p < bound)


def token_text(entry: Entry) -> str:
    return bytes(entry["bytes"]).decode("utf-8", "replace")


def shaded(entries: list[Entry]) -> Text:
    """The reply, each token on the background of its band."""
    out = Text()
    for item in entries:
        out.append(token_text(item), style=band_style(prob(item)))
    return out


def legend() -> Text:
    out = Text("probability: ", style="dim")
    for _, label, style in BANDS:
        out.append(f" {label} ", style=style or "reverse")
        out.append(" ")
    return out


def least_certain(entries: list[Entry], n: int = POSITIONS) -> list[tuple[int, Entry]]:
    """The n positions whose token was least probable, in reply order (1-based)."""
    worst = sorted(enumerate(entries, 1), key=lambda pe: pe[1]["logprob"])[:n]
    return sorted(worst, key=lambda pe: pe[0])


def _shown(item: Entry) -> str:
    """A token as the table shows it: whitespace made visible, then its probability."""
    text = token_text(item).translate(_VISIBLE)
    return f"{text} {prob(item):.1%}"


_VISIBLE = str.maketrans({" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"})


def table(entries: list[Entry], width: int = 100) -> Table:
    """The least certain positions: the token drawn, then the N best tokens of
    the raw distribution there, laid out in as many columns as `width` holds
    (N may be 20), each token whole."""
    rows = least_certain(entries)
    t = Table(title=f"the {len(rows)} least certain of {len(entries)} tokens", title_justify="left")
    t.add_column("#", justify="right", style="dim")
    t.add_column("token drawn", no_wrap=True)
    cells = [[_shown(a) for a in e["top_logprobs"]] for _, e in rows]
    longest = max((len(c) for row in cells for c in row), default=0)
    drawn_width = max((len(_shown(e)) for _, e in rows), default=0)
    if longest:
        t.add_column("best tokens there, most likely first")
    per_line = max(1, (width - drawn_width - 14) // (longest + 2))
    for (pos, item), alts in zip(rows, cells, strict=True):
        drawn = Text(_shown(item), style=band_style(prob(item)))
        t.add_row(str(pos), drawn, *([_grid(alts, per_line)] if longest else []))
    return t


def _grid(cells: list[str], per_line: int) -> Table:
    grid = Table.grid(padding=(0, 2))
    for _ in range(min(per_line, len(cells))):
        grid.add_column(no_wrap=True)
    for i in range(0, len(cells), per_line):
        grid.add_row(*cells[i : i + per_line])
    return grid


def plain_table(entries: list[Entry]) -> str:
    """The same table as text, for a pipe."""
    rows = least_certain(entries)
    lines = [f"the {len(rows)} least certain of {len(entries)} tokens:"]
    for pos, item in rows:
        alts = "  ".join(_shown(a) for a in item["top_logprobs"])
        lines.append(f"  #{pos}  {_shown(item)}" + (f"  | best: {alts}" if alts else ""))
    return "\n".join(lines)


def show(entries: list[Entry] | None, console: Console | None, content: str | None) -> None:
    """The whole picture on `console` (a terminal), or, with none, `content` and
    the plain table on stdout. No entries (a server that gave none): the reply."""
    if not entries:
        if content:
            (console.print(content, markup=False, highlight=False) if console else print(content))
        return
    if console is None:
        if content:
            print(content)
        print(plain_table(entries), flush=True)
        return
    console.print(
        Group(shaded(entries), Text(""), legend(), Text(""), table(entries, console.width))
    )
