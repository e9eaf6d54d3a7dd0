"""--logprobs, --logit-bias and --ban on the real CLI (a subprocess, the real
model): OpenAI's logprobs in --output-json, bans, and bad values (exit 2)."""

from __future__ import annotations

import json

import pytest
from support.cli_proc import oruel

pytestmark = pytest.mark.model

COLORS = "Name three colors."
GREEDY = ["--temperature", "0", "--no-log"]


def test_output_json_carries_openais_logprobs():
    res = oruel("ask", *GREEDY, "--max-tokens", "8", "--logprobs", "3", "--output-json", COLORS)
    assert res.returncode == 0, res.stderr
    choice = json.loads(res.stdout)["choices"][0]
    content = choice["logprobs"]["content"]
    assert len(content) == 8
    assert b"".join(bytes(t["bytes"]) for t in content).decode() == choice["message"]["content"]
    for t in content:
        assert set(t) == {"token", "logprob", "bytes", "top_logprobs"}
        assert len(t["top_logprobs"]) == 3 and t["top_logprobs"][0]["token"] == t["token"]


def test_ban_keeps_a_word_out_of_a_reply_that_has_it():
    plain = oruel("ask", *GREEDY, "--max-tokens", "30", COLORS)
    assert plain.returncode == 0, plain.stderr
    assert "Blue" in plain.stdout
    banned = oruel("ask", *GREEDY, "--max-tokens", "30", "--ban", "Blue", COLORS)
    assert banned.returncode == 0, banned.stderr
    assert "Blue" not in banned.stdout and banned.stdout.strip()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--logprobs", "21"], "--logprobs '21'"),
        (["--logit-bias", "5=101"], "--logit-bias '5=101'"),
        (["--logit-bias", "49152=-100"], "logit_bias: token id 49152"),
        (["--ban", "Bluexyz"], "'Blue' (23390)"),
    ],
)
def test_bad_values_are_exit_2_naming_the_field(args, words):
    res = oruel("ask", *GREEDY, "--max-tokens", "2", *args, COLORS)
    assert res.returncode == 2, res.stderr
    assert words in res.stderr and "Traceback" not in res.stderr
    assert res.stdout == ""


def test_ban_with_an_endpoint_is_refused_before_anything_runs():
    res = oruel("ask", "--endpoint", "http://127.0.0.1:9/v1", "--ban", "Blue", COLORS)
    assert res.returncode == 2 and "--ban needs the local model" in res.stderr


def test_batch_records_carry_logprobs_in_every_form(tmp_path):
    story = "Write a short story about a dragon who learns to paint."
    rows = [
        {"id": "a", "prompt": story, "temperature": 0, "max_tokens": 6,
         "logprobs": True, "top_logprobs": 2},
        {"custom_id": "b", "method": "POST", "url": "/v1/chat/completions",
         "body": {"messages": [{"role": "user", "content": story}], "temperature": 0,
                  "max_tokens": 6, "logprobs": True, "top_logprobs": 2}},
        {"id": "c", "prompt": story, "temperature": 0, "max_tokens": 6},
        {"id": "d", "prompt": story, "logprobs": True, "top_logprobs": 21},
        {"id": "e", "prompt": story, "top_logprobs": 2},
        {"id": "f", "prompt": story, "max_tokens": 2, "logit_bias": {"99999": 1}},
    ]  # fmt: skip
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = oruel("run", str(jobs), "--parallel", "2", "--no-log")
    assert res.returncode == 1, res.stderr  # the three bad lines
    out = {}
    for line in (tmp_path / "jobs.results.jsonl").read_text().splitlines():
        rec = json.loads(line)
        out[rec.get("custom_id", rec["id"])] = rec
    simple = out["a"]["logprobs"]["content"]
    body = out["b"]["response"]["body"]["choices"][0]["logprobs"]["content"]
    assert [t["token"] for t in simple] == [t["token"] for t in body] and len(simple) == 6
    assert "".join(t["token"] for t in simple) == out["a"]["output"]
    assert all(len(t["top_logprobs"]) == 2 for t in simple)
    assert "logprobs" not in out["c"] and out["c"]["error"] is None
    assert "top_logprobs 21" in out["d"]["error"]["message"]
    assert "needs logprobs" in out["e"]["error"]["message"]
    assert "logit_bias" in out["f"]["error"]["message"]


def test_the_demo_draws_the_distribution_before_and_after_the_bias():
    res = oruel("params", "explain", "logit_bias", "--demo", COLORS, "--output-json")
    assert res.returncode == 0, res.stderr
    ban, nudge, push = json.loads(res.stdout)["pictures"]
    top = ban["rows"][0]
    assert ban["value"] == {str(top["id"]): -100} and not top["kept"] and top["p_after"] == 0
    assert 0 < nudge["rows"][0]["p_after"] < top["p_before"]
    pushed = next(r for r in push["rows"] if str(r["id"]) in push["value"])
    assert pushed["p_after"] > pushed["p_before"]
    given = oruel("params", "explain", "logit_bias", "--demo", COLORS, "--output-json",
                  "--values", "23390=-100,5=101")  # fmt: skip
    assert given.returncode == 2 and "--logit-bias '5=101'" in given.stderr
    none = json.loads(oruel("params", "explain", "logprobs", "--demo", COLORS,
                            "--output-json").stdout)  # fmt: skip
    assert none["demo"] is None and "--logprobs" in " ".join(none["commands"])
