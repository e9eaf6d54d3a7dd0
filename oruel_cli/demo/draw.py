"""Drawing `params explain --demo`: one column a value, side by side.

Probabilities are bars on one absolute scale (a full bar is 100%), so
columns compare at a glance; kept tokens are green, cut ones say so. Token
text shows its spaces (␣) and newlines (↵): "Rome" and " Rome" are
different tokens, and the difference is the point. The tables fit the
terminal: the bars shrink with it, and values that do not fit side by side
go on in a second table.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rich.console import Console, JustifyMethod
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..render import out_console

_EIGHTHS = " ▏▎▍▌▋▊▉"
TOKEN_WIDTH = 14
_PCT = 6  # " 48.6%"

_WHAT = {
    "temperature": "logits / T, then softmax: below 1 sharpens, above 1 flattens; 0 is greedy "
    "(the most probable token, always)",
    "top_k": "keeps the K most probable tokens",
    "top_p": "keeps the smallest set of most probable tokens whose probabilities add up to "
    "top_p (or more)",
    "min_p": "drops the tokens below min_p × the top token's probability",
    "frequency_penalty": "logit − count × value, count = times the token is in the output so far",
    "presence_penalty": "logit − value for every token already in the output",
    "repetition_penalty": "for tokens already in the output: a positive logit / value, a "
    "negative one × value",
    "logit_bias": "logit + bias for each token named (by id); -100 bans it (never drawn); "
    "applied first, before the penalties and temperature",
}
_UNCUT = ("temperature", "logit_bias")  # pictures of the raw distribution: no cut note


def visible(text: str, width: int = TOKEN_WIDTH) -> str:
    """A token's text with its whitespace shown, cut to `width`."""
    shown = text.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥").replace("\r", "␍")
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def bar(p: float, width: int) -> str:
    """p in [0, 1] as a bar of `width` cells, to an eighth of a cell."""
    cells = max(0.0, min(1.0, p)) * width
    full = int(cells)
    part = _EIGHTHS[int((cells - full) * 8)] if full < width else ""
    return ("█" * full + part.strip()).ljust(width)


def pct(p: float) -> str:
    if p == 0:
        return "0%".rjust(_PCT)
    if p < 0.001:
        return "<0.1%".rjust(_PCT)
    return f"{p * 100:.1f}%".rjust(_PCT)


def _value_text(name: str, value: Any) -> str:
    if value is None:
        return "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict) and name == "logit_bias":
        return " ".join(f"{k}={v:g}" for k, v in value.items())
    return str(value)


def _groups(n: int, width: int, fixed: int, per: int) -> list[range]:
    """Split n value columns into tables that fit `width`, each column needing `per`."""
    fit = max(1, (width - fixed) // per)
    size = -(-n // -(-n // fit))  # balanced: 5 in rows of 3 and 2, not 4 and 1
    return [range(i, min(i + size, n)) for i in range(0, n, size)]


def picture(result: dict[str, Any], console: Console | None = None) -> None:
    console = console or out_console()
    kind = result["kind"]
    {
        "distribution": distribution,
        "penalty": penalties,
        "seed": seeds,
        "max_tokens": max_tokens,
        "stop": stops,
        "response_format": formats,
    }[kind](result, console)


def _title(result: dict[str, Any], what: str) -> Text:
    t = Text()
    t.append(result["parameter"], style="bold")
    t.append(f" · {what} · ", style="dim")
    t.append(result["model"], style="dim")
    return t


def _prompt_line(result: dict[str, Any]) -> Text:
    t = Text("prompt: ", style="dim")
    t.append(result["prompt"], style="italic")
    return t


def _head(console: Console, result: dict[str, Any], what: str, *notes: str | Text) -> None:
    """Every picture opens the same way: title, prompt, what the parameter does, a blank line."""
    console.print(_title(result, what))
    console.print(_prompt_line(result))
    for note in notes:
        console.print(note if isinstance(note, Text) else Text(note, style="dim"))
    console.print()


def _cut_table(value_header: str, reply_header: str, justify: JustifyMethod = "left") -> Table:
    """The table of a cut (max_tokens, stop): the value, the reply it leaves, its finish reason."""
    table = Table(show_lines=True, expand=True)
    table.add_column(value_header, justify=justify, no_wrap=True)
    table.add_column(reply_header, ratio=1)
    table.add_column("finish", no_wrap=True)
    return table


# -- the four cuts and temperature -------------------------------------------


def distribution(result: dict[str, Any], console: Console) -> None:
    name = result["parameter"]
    pics = result["pictures"]
    notes = [f"{name}: {_WHAT[name]}"] + ([_cut_note(result)] if name not in _UNCUT else [])
    _head(console, result, "the next token's distribution", *notes)
    token_w = max(5, *(len(visible(r["text"])) for r in pics[0]["rows"]))
    # one column for the distribution the stage receives, then one a value
    cols = len(pics) + 1
    bar_w = min(_BAR_MAX, (console.width - token_w) // cols - _CELL)
    if bar_w < _BAR_MIN:  # too narrow for all: more tables, one under the other
        bar_w = _BAR_MIN
    per = bar_w + _CELL
    for group in _groups(len(pics), console.width, token_w + per, per):
        console.print(_dist_table(result, [pics[i] for i in group], bar_w))
        console.print()
    console.print(
        Text(
            "kept: how many tokens survive, and the share of the probability they had "
            "before; the bars of the kept ones are renormalised (what the draw samples "
            "from).",
            style="dim",
        )
    )


_BAR_MIN, _BAR_MAX = 5, 20
_CELL = _PCT + 3  # the number, a space, and the table's padding of 1 a side


def _cut_note(result: dict[str, Any]) -> Text:
    t = result["temperature"]
    after = result["cut_after_temperature"]
    if t["value"] == 0:
        return Text(
            f"The effective temperature is 0 ({t['source']}): generation is greedy and no cut "
            f"runs at all, so the cut is shown after temperature {after:g}, the model's own "
            "distribution.",
            style="yellow",
        )
    first = result["pictures"][0]["before"]
    chain = " → ".join(first) if first else f"temperature {after:g}"
    return Text(f"Applied after {chain} (temperature from: {t['source']}).", style="dim")


def _column_label(name: str, pic: dict[str, Any]) -> str:
    value = _value_text(name, pic["value"])
    if name == "temperature":
        if pic["stage"] == "greedy":
            return f"T {value} greedy"
        return f"T {value} (= raw)" if pic["value"] == 1 else f"T {value}"
    return f"{name} {value}" + (" (off)" if pic["stage"] is None else "")


def _dist_table(result: dict[str, Any], pics: list[dict[str, Any]], bar_w: int) -> Table:
    name = result["parameter"]
    table = Table(box=None, pad_edge=False, padding=(0, 1), show_footer=True)
    table.add_column("token", no_wrap=True, footer=Text("kept", style="bold"))
    first = pics[0]
    head = (  # the model's own distribution, softmax at T 1: a value column of T 1 says so
        "raw"
        if name == "temperature"
        else " → ".join(p.split(" (")[0] for p in first["before"]).replace("temperature", "T")
    )
    table.add_column(
        Text(head or "raw", style="dim"),
        no_wrap=True,
        footer=Text(_kept_before(first), style="dim"),
    )
    for pic in pics:
        table.add_column(Text(_column_label(name, pic), style="bold"), no_wrap=True,
                         footer=_kept(pic))  # fmt: skip
    for r, row in enumerate(first["rows"]):
        cells: list[Any] = [Text(visible(row["text"]), style="cyan")]
        cells.append(Text(pct(row["p_before"]) + " " + bar(row["p_before"], bar_w), style="dim"))
        for pic in pics:
            cells.append(_cell(pic["rows"][r], pic, bar_w))
        table.add_row(*cells)
    return table


def _cell(row: dict[str, Any], pic: dict[str, Any], bar_w: int) -> Text:
    if not row["kept"]:
        if pic["stage"] == "greedy":  # nothing is cut: the draw just takes the top one
            return Text("–".rjust(_PCT) + " " * (bar_w + 1), style="dim")
        return Text("cut".rjust(_PCT) + " " * (bar_w + 1), style="red dim")
    style = "bold green" if pic["stage"] == "greedy" else "green"
    t = Text(pct(row["p_after"]) + " ")
    t.append(bar(row["p_after"], bar_w), style=style)
    return t


def _kept_before(pic: dict[str, Any]) -> str:
    n = pic.get("before_kept", pic["n_vocab"])
    return "all" if n >= pic["n_vocab"] else str(n)


def _kept(pic: dict[str, Any]) -> Text:
    if pic["kept"] >= pic["n_vocab"]:
        return Text("all", style="bold")
    return Text(f"{pic['kept']} ({pic['kept_mass'] * 100:.0f}%)", style="bold")


# -- the penalties --------------------------------------------------------------


def penalties(result: dict[str, Any], console: Console) -> None:
    name = result["parameter"]
    pics = result["pictures"]
    prefix = result["prefix"]
    t = Text(f"After {len(prefix['tokens'])} greedy tokens: ", style="dim")
    t.append(prefix["text"].strip().replace("\n", " ↵ "), style="italic")
    _head(console, result, "logits after a generated prefix", f"{name}: {_WHAT[name]}", t)
    token_w = max(5, *(len(visible(r["text"])) for r in pics[0]["rows"][:_PENALTY_ROWS]))
    fixed = token_w + 1 + 6 + 7  # token, count, logit
    per = 14
    for group in _groups(len(pics), console.width, fixed, per):
        room = (console.width - fixed) // len(group) - 1
        console.print(_penalty_table(result, [pics[i] for i in group], room))
    console.print()
    for pic in pics:
        rows = pic["rows"]
        if rows:
            top = rows[0]
            line = Text(f"{name} {_value_text(name, pic['value'])} on ", style="bold")
            line.append(json.dumps(top["text"], ensure_ascii=False), style="cyan")
            times = "once" if top["count"] == 1 else f"{top['count']} times"
            line.append(f" ({times}): {top['formula']}")
            console.print(line)


_PENALTY_ROWS = 12
_PENALTY_CELL = len("10.56 -1.06")  # a logit and its change: what a value column holds


def _penalty_table(result: dict[str, Any], pics: list[dict[str, Any]], room: int) -> Table:
    name = result["parameter"]
    table = Table(box=None, pad_edge=False, padding=(0, 1), show_footer=True)
    table.add_column("token", no_wrap=True, footer=Text("next (greedy)", style="bold"))
    table.add_column("count", justify="right", footer="", no_wrap=True)
    first = pics[0]
    table.add_column(
        Text("logit", style="dim"),
        justify="right",
        no_wrap=True,
        footer=Text(visible(first["next_before_text"], 9), style="cyan"),
    )
    labels = [f"{name} {_value_text(name, pic['value'])}" for pic in pics]
    if max(map(len, labels)) > min(room, _PENALTY_CELL):  # wider than its cells, or cut:
        labels = [_value_text(name, pic["value"]) for pic in pics]  # the title names it
    for pic, label in zip(pics, labels, strict=True):
        nxt = Text(visible(pic["next_after_text"], room), style="cyan bold")
        table.add_column(Text(label, style="bold"), justify="right", footer=nxt, no_wrap=True)
    for r, row in enumerate(first["rows"][:_PENALTY_ROWS]):
        cells: list[Any] = [Text(visible(row["text"]), style="cyan"), str(row["count"])]
        cells.append(Text(f"{row['logit_before']:.2f}", style="dim"))
        for pic in pics:
            pr = pic["rows"][r]
            delta = pr["logit_after"] - pr["logit_before"]
            cell = Text(f"{pr['logit_after']:.2f} ")
            cell.append(f"{delta:+.2f}", style="red" if delta < 0 else "green")
            cells.append(cell)
        table.add_row(*cells)
    return table


# -- generations ----------------------------------------------------------------


def _reply(text: str | None) -> Text:
    return Text(text if text else "(empty)", style="" if text else "dim")


def seeds(result: dict[str, Any], console: Console) -> None:
    from ..sweep.draw import columns

    _head(
        console,
        result,
        f"short generations at temperature {result['temperature']:g}",
        "seed: the seed of the draw: the same seed (and parameters) gives the same "
        "reply; at temperature 0 it changes nothing. Each seed runs twice.",
    )
    runs: dict[Any, list[str]] = {}
    for g in result["generations"]:
        runs.setdefault(g["seed"], []).append(g["text"])
    heads, bodies, feet = [], [], []
    for seed, texts in runs.items():
        heads.append((Text(f"seed {seed}", style="bold"), None))
        body = Text()
        for n, t in enumerate(texts, start=1):
            body.append(("\n" if n > 1 else "") + f"run {n}\n", style="dim")
            body.append(re.sub(r"\n\s*\n+", "\n", t.strip()) or "(empty)")
        bodies.append(body)
        same = all(t == texts[0] for t in texts)
        feet.append(Text("run 2 = run 1", style="green") if same else
                    Text("run 2 ≠ run 1", style="red bold"))  # fmt: skip
    console.print(columns(heads, bodies, feet, console.width))


def max_tokens(result: dict[str, Any], console: Console) -> None:
    gen = result["generation"]
    values = sorted(set(result["values"]))
    _head(
        console,
        result,
        "one generation, cut where each value would cut it",
        "max_tokens: the most tokens the reply may have; the reply ends there with "
        "finish_reason length (or earlier, when the model ends it).",
    )
    marked = Text()
    styles = ("", "blue")
    segment = 0
    for i, piece in enumerate(gen["pieces"], start=1):
        marked.append(piece, style=styles[segment % 2])
        if i in values:
            marked.append(f"⟨{i}⟩", style="bold magenta")
            segment += 1
    console.print(Panel(marked, title="the generation, with the cut points", title_align="left"))
    table = _cut_table("max_tokens", "the reply", justify="right")
    n = len(gen["pieces"])
    for v in result["values"]:
        text = "".join(gen["pieces"][:v])
        finish = (
            "length"
            if v <= n and not (v == n and gen["finish_reason"] == "stop")
            else (gen["finish_reason"])
        )
        table.add_row(str(v), _reply(text), finish)
    console.print(table)


def stops(result: dict[str, Any], console: Console) -> None:
    gen = result["generation"]
    _head(
        console,
        result,
        "one generation, cut at each stop string",
        "stop: the reply ends where a stop string is first generated (also across "
        "tokens); the stop string is not part of it.",
    )
    text = gen["text"]
    marks: dict[int, list[str]] = {}
    for cut in result["cuts"]:
        if cut["at"] is not None:
            marks.setdefault(cut["at"], []).append(cut["stop"])
    marked, pos = Text(), 0
    for at in sorted(marks):
        marked.append(text[pos:at])
        for stop in marks[at]:
            marked.append(f"⟨{json.dumps(stop)}⟩", style="bold magenta")
        pos = at
    marked.append(text[pos:])
    title = "the generation, marked where each stop string first appears"
    console.print(Panel(marked, title=title, title_align="left"))
    table = _cut_table("stop", "the reply (the stop string is not part of it)")
    for cut in result["cuts"]:
        reply = _reply(cut["text"])
        if cut["at"] is None:
            reply.append("  (never generated)", style="dim")
        table.add_row(json.dumps(cut["stop"]), reply, cut["finish_reason"])
    console.print(table)


def formats(result: dict[str, Any], console: Console) -> None:
    gens = result["generations"]
    _head(
        console,
        result,
        "the same prompt, each format",
        "response_format json_object constrains the reply with a JSON grammar, so it "
        "parses (unless max_tokens cuts it short); text leaves it free.",
    )
    from ..sweep.draw import columns

    heads, bodies, feet = [], [], []
    for g in gens:
        ok = (
            Text("parses as JSON", style="green")
            if g["parses"]
            else Text("does not parse as JSON", style="yellow")
        )
        heads.append((Text(json.dumps(g["response_format"]), style="bold"), None))
        bodies.append(_reply(g["text"]))
        feet.append(Text.assemble(ok, (f" · finish {g['finish_reason']}", "dim")))
    console.print(columns(heads, bodies, feet, console.width))


# -- no picture -------------------------------------------------------------------


def no_demo(name: str, why: str, commands: list[str], console: Console | None = None) -> None:
    console = console or out_console()
    console.print(Text(f"{name}: no distribution to draw", style="bold"))
    console.print(why)
    console.print()
    console.print(Text("Run instead:", style="bold"))
    for c in commands:
        console.print(Text(f"  {c}", style="cyan"), soft_wrap=True)
