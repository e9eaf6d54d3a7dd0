"""Pure logic of logprobs: releasing entries with the text shown, the picture's
bands and table, the flags' parsing, the bias sampler's value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oruel_cli.common.options import CommonOptions, parse_bias
from oruel_cli.engine.logprobs import Row, Tracker
from oruel_cli.engine.text import Detokenizer, StopMatcher
from oruel_cli.errors import UsageError
from oruel_cli.logprob_view import band_style, least_certain, plain_table


def item(text: str, p: float = 0.5, tops: int = 0) -> dict:
    def one(t: str, q: float) -> dict:
        return {"token": t, "logprob": math.log(q), "bytes": list(t.encode())}

    return {**one(text, p), "top_logprobs": [one(f"t{i}", p / (i + 1)) for i in range(tops)]}


def feed(pieces: list[bytes], stops: list[str]) -> tuple[str, list[list[dict]], Tracker]:
    """Pieces through the detokenizer and stop matcher, as the engine does."""
    detok, matcher, tracker = Detokenizer(), StopMatcher(stops), Tracker()
    text, deltas = "", []
    for piece in pieces:
        tracker.add({"bytes": list(piece)})
        shown = matcher.feed(detok.feed(piece))
        deltas.append(tracker.show(shown))
        text += shown
        if matcher.stopped:
            break
    else:
        tail = matcher.feed(detok.flush()) + matcher.flush()
        deltas.append(tracker.show(tail))
        text += tail
    return text, deltas, tracker


def test_a_split_character_releases_its_tokens_when_whole():
    pieces = [b"a", "é".encode()[:1], "é".encode()[1:], b"b"]
    text, deltas, tracker = feed(pieces, [])
    assert text == "aéb"
    assert [len(d) for d in deltas] == [1, 0, 2, 1, 0]
    assert b"".join(bytes(e["bytes"]) for e in tracker.released) == text.encode()


def test_a_stop_keeps_its_own_tokens_and_releases_the_one_it_opens_in():
    text, deltas, tracker = feed([b"Hi", b" E", b"ND", b" more"], [" END"])
    assert text == "Hi" and [len(d) for d in deltas] == [1, 0, 0]  # " E" and "ND": the stop's
    text, deltas, tracker = feed([b"Hi", b" E", b"ND", b" more"], ["END"])
    assert text == "Hi " and [len(d) for d in deltas] == [1, 1, 0]  # " E" shows its space
    assert [bytes(e["bytes"]) for e in tracker.released] == [b"Hi", b" E"]


def test_held_text_that_is_no_stop_comes_with_its_token():
    text, deltas, tracker = feed([b"Hi", b" E", b"gg"], [" END"])
    assert text == "Hi Egg" and [len(d) for d in deltas] == [1, 0, 2, 0]


def test_a_row_is_the_log_softmax_with_its_best_tokens():
    logits = np.array([1.0, 3.0, 2.0, -1.0], dtype=np.float32)
    row = Row(logits, 2)
    ref = logits - np.log(np.exp(logits.astype(np.float64)).sum())
    assert row.logprob(1) == pytest.approx(ref[1], abs=1e-6)
    assert [t for t, _ in row.top] == [1, 2]
    assert Row(logits, 0).top == []


@pytest.mark.parametrize(("scale", "bump"), [(3, 0), (0.5, 0), (30, 0), (3, 40), (2, 9)])
def test_the_best_tokens_are_the_largest_logits_in_order(scale, bump):
    rng = np.random.default_rng(7)
    logits = (rng.standard_normal(49152) * scale).astype(np.float32)
    logits[17] += bump
    for n in (1, 5, 20):
        want = np.argsort(-logits, kind="stable")[:n]
        assert [t for t, _ in Row(logits, n).top] == list(want)


def test_bands_and_the_least_certain_positions():
    assert band_style(0.05) == band_style(0.0999) != band_style(0.10)
    assert band_style(0.5) != band_style(0.49) and band_style(0.95) == ""
    entries = [item("a", p) for p in (0.9, 0.1, 0.8, 0.2, 0.3, 0.05, 0.99)]
    assert [pos for pos, _ in least_certain(entries)] == [2, 3, 4, 5, 6]  # not 1 or 7
    text = plain_table([item(" x", 0.25, tops=2)])
    assert "#1  ␣x 25.0%  | best: t0 25.0%  t1 12.5%" in text


def test_flags_parse_like_openais_fields():
    assert CommonOptions(logprobs="3").flag_params() == {"logprobs": True, "top_logprobs": 3}
    assert CommonOptions(logit_bias=["5=-100", "7=2.5"]).flag_params() == {
        "logit_bias": {"5": -100, "7": 2.5}
    }
    assert parse_bias("0012=+3") == ("12", 3)
    for bad in ("5", "x=1", "5=abc", "5=nan", "-1=3", "5=-100.5"):
        with pytest.raises(UsageError, match="--logit-bias"):
            parse_bias(bad)
    for bad in ("21", "-1", "two", ""):
        with pytest.raises(UsageError, match="--logprobs"):
            CommonOptions(logprobs=bad).flag_params()


def test_minus_100_is_a_ban():
    from oruel_cli.engine.sampling import bias_value

    assert bias_value(-100) == -math.inf and bias_value(-99.5) == -99.5 and bias_value(100) == 100


def test_chat_set_takes_the_three_as_their_flags_do():
    from oruel_cli.chat.commands import parse_set

    assert parse_set("logit_bias", "5=-100 7=2") == {"logit_bias": {"5": -100, "7": 2}}
    assert parse_set("logprobs", "on") == {"logprobs": True}
    assert parse_set("top_logprobs", "3") == {"top_logprobs": 3}
    with pytest.raises(UsageError, match="--logit-bias 'x'"):
        parse_set("logit_bias", "x")
