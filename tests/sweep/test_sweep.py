"""`oruel ask --sweep` on the real model, through the real CLI: every variant
runs in one batch sized as `oruel run --parallel N` sizes its engine, so each
reply equals what `oruel run` gives for the same line at the same
--parallel, and a one-value greedy sweep equals `oruel ask`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.model

PROMPT = "Write a haiku about snow."


def oruel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oruel_cli", *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def run_lines(tmp_path: Path, lines: list[dict], parallel: int) -> list[dict]:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    res = oruel("run", str(jobs), "-o", "-", "--parallel", str(parallel))
    assert res.returncode == 0, res.stderr
    by_id = {r["id"]: r for r in map(json.loads, res.stdout.splitlines())}
    return [by_id[line["id"]] for line in lines]


def test_a_grid_of_presets_and_temperatures_equals_run_at_the_same_parallel(tmp_path):
    """2 presets × 2 temperatures, seeded: each reply is `oruel run`'s for that line."""
    res = oruel("ask", PROMPT, "--sweep", "preset=qa,creative", "--sweep", "temperature=0,0.9",
                "--seed", "11", "--max-tokens", "24", "--output-json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    replies = json.loads(res.stdout)
    assert [r["variant"] for r in replies] == [
        {"preset": p, "temperature": t} for p in ("qa", "creative") for t in (0.0, 0.9)
    ]
    lines = [
        {"id": f"v{i}", "prompt": PROMPT, "preset": r["variant"]["preset"],
         "temperature": r["variant"]["temperature"], "seed": 11, "max_tokens": 24}
        for i, r in enumerate(replies)
    ]  # fmt: skip
    records = run_lines(tmp_path, lines, parallel=4)
    for reply, record in zip(replies, records, strict=True):
        assert reply["object"] == "chat.completion"
        assert reply["choices"][0]["message"]["content"] == record["output"]
        assert reply["choices"][0]["finish_reason"] == record["finish_reason"]
        assert reply["params"] == record["params"]  # the effective parameters
        assert reply["usage"] == record["usage"]
    texts = [r["choices"][0]["message"]["content"] for r in replies]
    assert len(set(texts)) > 1


def test_a_one_value_greedy_sweep_equals_ask():
    ask = oruel("ask", PROMPT, "-t", "0", "--max-tokens", "32", "--output-json")
    sweep = oruel("ask", PROMPT, "--sweep", "temperature=0", "--max-tokens", "32",
                  "--output-json")  # fmt: skip
    assert ask.returncode == 0 and sweep.returncode == 0, sweep.stderr
    (one,) = json.loads(sweep.stdout)
    want = json.loads(ask.stdout)
    assert one["choices"][0]["message"] == want["choices"][0]["message"]
    assert one["usage"] == want["usage"]
    assert one["params"]["temperature"] == 0


def test_piped_replies_are_plain_text_under_their_headings():
    res = oruel("ask", PROMPT, "--sweep", "max_tokens=3,6", "-t", "0")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.startswith("=== max_tokens 3 ===\n") and "\n=== max_tokens 6 ===\n" in out
    assert "\x1b[" not in out
    short, long = (part.split("===\n", 1)[1].strip() for part in out.split("\n\n=== ")[:2])
    assert long.startswith(short)  # greedy: the longer reply goes on from the shorter
    assert "2 replies in one batch" in res.stderr
