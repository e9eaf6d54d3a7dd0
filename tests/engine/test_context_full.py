"""A reply that the context's end cut, not max_tokens: the stats line of ask
(and chat) says so, while --output-json and run records keep OpenAI's plain
`length` and add no field (the real CLI on the real model)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from oruel_cli.chat.repl import stats_line
from oruel_cli.engine.reply import Completion

CTX = "64"
LONG = "Write a very long story about a fox who travels the world."
OPENAI_CHOICE_KEYS = {"index", "message", "finish_reason", "logprobs"}


def oruel(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oruel_cli", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.model
def test_ask_says_the_context_ended_the_reply():
    res = oruel("ask", "--ctx", CTX, "-t", "0", LONG)
    assert res.returncode == 0, res.stderr
    assert f"finish: length (context full: {CTX} tokens)" in res.stderr
    res = oruel("ask", "--ctx", CTX, "-t", "0", "--max-tokens", "3", LONG)
    assert res.returncode == 0, res.stderr
    assert res.stderr.rstrip().endswith("finish: length"), res.stderr  # max_tokens cut it


@pytest.mark.model
def test_output_json_and_run_records_keep_openais_length(tmp_path):
    res = oruel("ask", "--ctx", CTX, "-t", "0", "--output-json", LONG)
    assert res.returncode == 0, res.stderr
    choice = json.loads(res.stdout)["choices"][0]
    assert choice["finish_reason"] == "length" and set(choice) == OPENAI_CHOICE_KEYS
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"id": "a", "prompt": LONG}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    res = oruel("run", "--ctx", CTX, "-t", "0", str(jobs), "-o", str(out))
    assert res.returncode == 0, res.stderr
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["finish_reason"] == "length"
    assert "context" not in json.dumps(record)


def _comp(**kw: object) -> Completion:
    base = dict(
        id="x", model="m", content="hi", finish_reason="length", prompt_tokens=40,
        completion_tokens=24, seconds=1.0, first_token_seconds=0.1,
    )  # fmt: skip
    return Completion(**{**base, **kw})  # type: ignore[arg-type]


def test_chat_stats_line_says_the_context_was_full():
    assert stats_line(_comp(context_full=64), 64).endswith(
        "finish: length (context full: 64 tokens)"
    )
    assert stats_line(_comp(), 64).endswith("finish: length")
    assert "context_full" not in json.dumps(_comp(context_full=64).to_openai())
