"""Streaming Markdown: which prefix is final, and that the streamed rendering
reads exactly as the whole reply rendered at once, however it is chunked."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from support.terminal import replay

from oruel_cli.render import MarkdownStream, markdown, stable_prefix

DOCS = [
    "# Title\n\nSome paragraph here\nthat continues.\n\n1. one\n2. two\n\n3. three\n\n"
    "```python\ndef f():\n\n    return 1\n```\n\nLast para with **bold**.\n- a\n- b\n\n"
    "  continued\n\nEnd.",
    "## Sub\n\nPara one.\n\n### Third\n\n> quote\n> more\n\nText after quote.\n\n"
    "| a | b |\n|---|---|\n| 1 | 2 |\n\nDone here.\n",
    "Intro:\n\n```\n"
    + "".join(f"line {i} of a long code block\n" for i in range(26))
    + "```\n\nAfter.",
    "A paragraph " * 80 + "\n\nShort one.",
    "No blank lines at all, one paragraph that keeps going",
    "Tips:\n\n" + "".join(f"{i}. tip number {i}\n" for i in range(1, 14)) + "\nDone.",
    "".join(
        f"{i}. Tip {i}: a tip long enough to wrap onto a second line of the\n" for i in range(1, 11)
    ),
]


@pytest.mark.parametrize(
    "text, cut",
    [
        ("Para one.\n\nPara two", len("Para one.\n\n")),
        ("Para one.\n\n", 0),  # the next line has not begun: it could be indented
        ("Para one.\n\n  indented", 0),  # could continue a list item or be code
        ("- a\n\n- b", 0),  # a list split in two would render as two lists
        ("1. a\n\n2. b", 0),
        ("1. a\n\n2", 0),  # the digit may yet become "2."
        ("1. a\n\n2 apples", len("1. a\n\n")),
        ("```\ncode\n\nmore", 0),  # inside a fence, blank lines are code
        ("```\ncode\n```\nNext", len("```\ncode\n```\n")),
        ("~~~\na\n```\n\nstill code\n~~~\n\nout", len("~~~\na\n```\n\nstill code\n~~~\n\n")),
        ("One.\n\nTwo.\n\nThree", len("One.\n\nTwo.\n\n")),
        ("no newline yet", 0),
    ],
)
def test_stable_prefix(text, cut):
    assert stable_prefix(text) == cut


def _console(buf: io.StringIO, height: int = 25) -> Console:
    return Console(file=buf, width=60, height=height, force_terminal=False)


def whole(text: str) -> str:
    buf = io.StringIO()
    _console(buf).print(markdown(text))
    return buf.getvalue().strip("\n")


def streamed(text: str, cuts: list[int], height: int = 25) -> str:
    buf = io.StringIO()
    ms = MarkdownStream(console=_console(buf, height), fps=1e9)  # draw on every piece
    ms.BUDGET = float("inf")  # and never slow down
    prev = 0
    for cut in [*sorted(cuts), len(text)]:
        ms.add(text[prev:cut])
        prev = cut
    ms.close()
    return buf.getvalue().strip("\n")


@pytest.mark.parametrize("doc", DOCS)
@pytest.mark.parametrize("step", [1, 7])
def test_streamed_reads_as_the_whole_reply(doc, step):
    assert streamed(doc, list(range(step, len(doc), step))) == whole(doc)


def on_screen(write, height: int) -> list[str]:
    """What a terminal of `height` lines shows after `write` draws on it."""
    buf = io.StringIO()
    write(Console(file=buf, width=60, height=height, force_terminal=True, color_system=None))
    lines = replay(buf.getvalue(), 60, height)
    return lines[next((i for i, line in enumerate(lines) if line), 0) :]  # no leading blank


def _stream_to(console: Console, doc: str, step: int) -> None:
    ms = MarkdownStream(console=console, fps=1e9)
    ms.BUDGET = float("inf")  # and never slow down
    for i in range(0, len(doc), step):
        ms.add(doc[i : i + step])
    ms.close()


@pytest.mark.parametrize("doc", DOCS)
def test_on_a_small_terminal_every_line_shows_once(doc):
    """A reply (or one block of it) taller than the screen: the live region can
    only redraw what is on screen, so lines are printed for good before they
    scroll away. The terminal then shows exactly the whole reply's rendering."""
    for height in (8, 24):
        expected = on_screen(lambda c: c.print(markdown(doc)), height)
        assert on_screen(lambda c: _stream_to(c, doc, 4), height) == expected


@pytest.mark.parametrize("doc", DOCS)
def test_a_reply_that_grew_taller_than_the_screen_between_frames_shows_once(doc):
    """The first frame draws a line, then the rest arrives before the next frame
    is due (a slow frame, a fast model): the closing frame holds all of it, and
    must not leave the screen's worth of lines that scrolled off drawn twice."""

    def write(console: Console) -> None:
        ms = MarkdownStream(console=console, fps=1e-9)  # no frame after the first
        ms.add(doc[:3])
        ms.add(doc[3:])
        ms.close()

    for height in (8, 24):
        expected = on_screen(lambda c: c.print(markdown(doc)), height)
        assert on_screen(write, height) == expected


def test_an_ordered_list_keeps_its_indent_past_item_nine():
    """Items 1-9 are laid out as they will be once item 10 arrives (a tall list's
    first lines are printed for good before the list is whole)."""
    nine = whole("".join(f"{i}. x\n" for i in range(1, 10))).splitlines()
    ten = whole("".join(f"{i}. x\n" for i in range(1, 11))).splitlines()
    assert ten[:9] == nine and ten[9].startswith(" 10. x")


def test_an_ordered_list_keeps_its_dots():
    lines = [
        ln.rstrip()
        for ln in whole("1. Citrus\n2. Apple, a fruit that " + "grows " * 9).splitlines()
    ]
    assert lines[0] == "  1. Citrus"
    assert lines[1].startswith("  2. Apple, a fruit")
    assert lines[2].startswith("     grows")  # a wrapped item lines up under its text


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(DOCS), st.lists(st.integers(0, 4000), max_size=40))
def test_any_chunking_reads_the_same(doc, cuts):
    assert streamed(doc, [c for c in cuts if c < len(doc)]) == whole(doc)


def test_piped_stream_writes_raw_text(capsys, monkeypatch):
    monkeypatch.setattr("oruel_cli.render.rich_stdout", lambda: False)
    ms = MarkdownStream()
    for piece in ["# Hi", "\n\n**bold**", " text"]:
        ms.add(piece)
    ms.close()
    assert capsys.readouterr().out == "# Hi\n\n**bold** text\n"
