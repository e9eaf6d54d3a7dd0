"""--logprobs, --logit-bias and --ban on the real CLI (a subprocess, the real
model): OpenAI's logprobs in --output-json, bans, and bad values (exit 2)."""

from __future__ import annotations

import json

import pytest

from tests.test_ask import oruel

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
