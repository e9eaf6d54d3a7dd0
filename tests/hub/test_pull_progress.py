"""The pull bar fits the terminal: a line wider than the screen wraps, and each refresh
of rich's live display then leaves a copy of the bar behind."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from oruel_cli.hub.progress import PullProgress

NAME = "SmolLM2-135M-Instruct-Q4_K_M.gguf"


@pytest.mark.parametrize("width", [60, 70, 80, 100, 120, 200])
def test_the_bar_is_one_line_that_fits_the_width(width: int) -> None:
    console = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None)
    progress = PullProgress(console)
    try:
        progress.start(NAME, 12_300_000_000)  # the widest sizes: "1.2/12.3 GB"
        progress.advance(1)
        time.sleep(0.05)
        progress.advance(1_234_567_890)  # a fast link: a speed in GB/s, a time left
        lines = console.render_lines(progress.bar.get_renderable(), pad=False)
    finally:
        progress.close()
    texts = ["".join(seg.text for seg in line).rstrip() for line in lines]
    texts = [t for t in texts if t]
    assert len(texts) == 1, texts
    assert len(texts[0]) <= width, texts[0]
    assert "GB/s" in texts[0] and "ETA 0:" in texts[0], texts[0]
    if width >= 120:
        assert NAME in texts[0]  # the whole name where there is room
