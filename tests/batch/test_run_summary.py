"""The summary at the end of `oruel run`, as a 100-column terminal shows it: the
title is one line, and an unfinished job says how to finish it in one line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

import oruel_cli.render as render
from oruel_cli.batch.stats import JobStats
from oruel_cli.cli.run_cmd import _summary


@pytest.fixture
def screen(monkeypatch):
    console = Console(width=100, record=True, file=io.StringIO(), color_system=None)
    monkeypatch.setattr(render, "err_console", lambda: console)

    def shown(stats: JobStats) -> list[str]:
        _summary(stats, Path("out.jsonl"))
        return [ln.strip() for ln in console.export_text().splitlines() if ln.strip()]

    return shown


@pytest.mark.parametrize(
    "stats, title",
    [
        (JobStats(total=9, ok=3, interrupted=True), "oruel run: interrupted"),
        (JobStats(total=9, ok=3, stopped="every endpoint is down"), "oruel run: stopped"),
    ],
)
def test_an_unfinished_job_says_how_to_finish_in_whole_lines(screen, stats, title):
    lines = screen(stats)
    assert lines[0] == title
    assert lines[-1] == "run again with --resume to finish"


def test_a_finished_job_says_done(screen):
    lines = screen(JobStats(total=3, ok=3))
    assert lines[0] == "oruel run: done" and "--resume" not in "\n".join(lines)
