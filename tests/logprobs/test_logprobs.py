"""logprobs, top_logprobs and logit_bias on the real embedded model, through the
engine: the numbers are the raw distribution, the bias acts before sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oruel_cli.backends.local import Prompter
from oruel_cli.engine.completion import complete
from oruel_cli.engine.driver import Driver
from oruel_cli.engine.engine import Delta, Finish
from oruel_cli.engine.loader import open_engine, resolve_target
from oruel_cli.errors import UsageError
from oruel_cli.params.model import GenerationParams

pytestmark = pytest.mark.model

PROMPT = "What is the capital of France?"
MESSAGES = [{"role": "user", "content": PROMPT}]


@pytest.fixture(scope="module")
def engine(base_config):
    with open_engine(resolve_target(base_config, None, {}), 1, 2048) as eng:
        yield eng


@pytest.fixture(scope="module")
def prompter(engine):
    return Prompter(engine.model)


def run(engine, prompter, messages=MESSAGES, **params):
    """(Completion, deltas, request) of one reply."""
    req = prompter.request(messages, GenerationParams(**params))
    deltas, finish = [], None
    for ev in Driver(engine).submit(req):
        if isinstance(ev, Delta):
            deltas.append(ev)
        elif isinstance(ev, Finish):
            finish = ev
    return complete(finish, "test"), deltas, req


def log_softmax(logits: list[float]) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float64)
    return x - (x.max() + np.log(np.exp(x - x.max()).sum()))


def test_greedy_logprobs_are_the_raw_log_softmax(engine, prompter):
    comp, _, req = run(
        engine, prompter, temperature=0, max_tokens=12, logprobs=True, top_logprobs=5
    )
    content = comp.logprobs
    assert content and len(content) == comp.completion_tokens
    tokens = list(req.tokens)
    for i, item in enumerate(content):
        tops = item["top_logprobs"]
        assert len(tops) == 5
        assert item["logprob"] == pytest.approx(tops[0]["logprob"], abs=1e-4)
        assert item["token"] == tops[0]["token"]
        lps = [t["logprob"] for t in tops]
        assert lps == sorted(lps, reverse=True)
        assert sum(math.exp(x) for x in lps) <= 1 + 1e-6
        # Independently: the model's logits after the prompt and the tokens so far.
        ref = log_softmax(engine.next_token_logits(tokens))
        token = int(np.argmax(ref))
        assert item["logprob"] == pytest.approx(float(ref[token]), abs=1e-4), i
        assert bytes(item["bytes"]) == engine.model.piece(token)
        for top, t in zip(tops, np.argsort(-ref, kind="stable")[:5], strict=True):
            assert top["logprob"] == pytest.approx(float(ref[t]), abs=1e-4)
        tokens.append(token)


def test_bytes_join_to_the_content(engine, prompter):
    comp, deltas, _ = run(engine, prompter, temperature=0, max_tokens=40, logprobs=True)
    joined = b"".join(bytes(item["bytes"]) for item in comp.logprobs)
    assert joined == comp.content.encode("utf-8")
    assert all(item["top_logprobs"] == [] for item in comp.logprobs)
    streamed = [item for d in deltas for item in d.logprobs or []]
    assert streamed == comp.logprobs


def test_a_stop_string_keeps_its_tokens_out(engine, prompter):
    story = [{"role": "user", "content": "Write a short story about a dragon who learns to paint."}]
    full, _, _ = run(engine, prompter, story, temperature=0, max_tokens=36, logprobs=True)
    # " market" opens the stop with its second byte: its entry comes with the
    # space it shows; " square" lies wholly inside the stop: it never comes.
    word = "market square"
    assert word in full.content
    comp, deltas, _ = run(
        engine, prompter, story, temperature=0, max_tokens=36, logprobs=True, stop=word
    )
    assert comp.finish_reason == "stop" and word not in comp.content
    joined = b"".join(bytes(item["bytes"]) for item in comp.logprobs)
    assert joined.decode("utf-8") == comp.content + "market"
    assert len(comp.logprobs) < len(full.logprobs)
    assert [item for d in deltas for item in d.logprobs or []] == comp.logprobs


def test_a_token_top_k_cut_keeps_its_probability(engine, prompter):
    comp, _, _ = run(
        engine, prompter, temperature=1.0, top_k=1, seed=3, max_tokens=4,
        logprobs=True, top_logprobs=3,
    )  # fmt: skip
    first = comp.logprobs[0]
    second = first["top_logprobs"][1]
    assert second["logprob"] > -30 and second["logprob"] < first["logprob"]
    assert first["logprob"] < 0  # not the 0 a renormalized cut distribution would give


def test_no_logprobs_unless_asked(engine, prompter):
    comp, deltas, _ = run(engine, prompter, temperature=0, max_tokens=4)
    assert comp.logprobs is None and comp.to_openai()["choices"][0]["logprobs"] is None
    assert all(d.logprobs is None for d in deltas)


def test_bias_minus_100_turns_the_greedy_token_into_the_second(engine, prompter):
    comp, _, _ = run(engine, prompter, temperature=0, max_tokens=1, logprobs=True, top_logprobs=2)
    first, second = comp.logprobs[0]["top_logprobs"][:2]
    vocab = {engine.model.piece(t): t for t in range(engine.model.n_vocab)}
    banned = vocab[bytes(first["bytes"])]
    biased, _, _ = run(
        engine, prompter, temperature=0, max_tokens=1, logprobs=True,
        logit_bias={str(banned): -100},
    )  # fmt: skip
    assert biased.content == second["token"]
    # The logprobs stay the raw distribution: the bias does not show in them.
    assert biased.logprobs[0]["logprob"] == pytest.approx(second["logprob"], abs=1e-4)


def test_a_positive_bias_pushes_a_token(engine, prompter):
    target = engine.model.tokenize(" banana")
    assert len(target) == 1
    comp, _, _ = run(
        engine, prompter, temperature=0, max_tokens=3, logit_bias={str(target[0]): 100}
    )
    assert comp.content.startswith(" banana banana") or comp.content.count("banana") >= 2


def test_an_unknown_token_id_is_a_usage_error(prompter, engine):
    params = GenerationParams(logit_bias={str(engine.model.n_vocab): 5})
    with pytest.raises(UsageError) as info:
        prompter.request(MESSAGES, params)
    assert "logit_bias" in str(info.value) and str(engine.model.n_vocab - 1) in str(info.value)
