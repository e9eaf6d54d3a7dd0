"""The engine on the real embedded model: each parameter does what the reference says."""

from __future__ import annotations

import json
import math
from collections import Counter

import jsonschema
import llama_cpp as lc
import pytest

from oruel_cli.backends.local import Prompter
from oruel_cli.engine.completion import complete
from oruel_cli.engine.driver import Driver
from oruel_cli.engine.engine import Delta, Finish
from oruel_cli.engine.loader import open_engine, resolve_target
from oruel_cli.engine.sampling import apply_chain, build_chain
from oruel_cli.params.model import GenerationParams

pytestmark = pytest.mark.model

PROMPT = "Write a short story about a dragon who learns to paint."


@pytest.fixture(scope="module")
def engine(base_config):
    with open_engine(resolve_target(base_config, None, {}), 1, 2048) as eng:
        yield eng


def generate(engine, req):
    """One request through a driver over the shared engine: its events."""
    return list(Driver(engine).submit(req))


@pytest.fixture(scope="module")
def prompter(engine):
    return Prompter(engine.model)


def run(engine, prompter, prompt=PROMPT, **params):
    """Generate one reply; return (Completion, the streamed deltas)."""
    req = prompter.request([{"role": "user", "content": prompt}], GenerationParams(**params))
    deltas, finish = [], None
    for ev in generate(engine, req):
        if isinstance(ev, Delta):
            deltas.append(ev.text)
        elif isinstance(ev, Finish):
            finish = ev
    return complete(finish, "test"), deltas


def text(engine, prompter, **params):
    return run(engine, prompter, **params)[0].content


def test_temperature_zero_ignores_the_seed(engine, prompter):
    a = text(engine, prompter, temperature=0, seed=1, max_tokens=24)
    b = text(engine, prompter, temperature=0, seed=987654321, max_tokens=24)
    assert a and a == b


@pytest.mark.parametrize("cut", [{"top_k": 1}, {"top_p": 0.001}, {"min_p": 1.0}])
def test_cuts_to_one_token_are_greedy(engine, prompter, cut):
    greedy = text(engine, prompter, temperature=0, max_tokens=24)
    for seed in (1, 2, 3):
        assert text(engine, prompter, temperature=1.5, seed=seed, max_tokens=24, **cut) == greedy


def test_same_seed_same_text_other_seed_other_text(engine, prompter):
    a = text(engine, prompter, temperature=1.0, seed=42, max_tokens=30)
    b = text(engine, prompter, temperature=1.0, seed=42, max_tokens=30)
    c = text(engine, prompter, temperature=1.0, seed=43, max_tokens=30)
    assert a == b
    assert a != c


def test_seed_is_reduced_mod_2_32_minus_1(engine, prompter):
    a = text(engine, prompter, temperature=1.0, seed=5, max_tokens=20)
    b = text(engine, prompter, temperature=1.0, seed=5 + (2**32 - 1), max_tokens=20)
    assert a == b


def test_unset_cuts_leave_the_tail_open(engine, prompter):
    """No top_k 40 and no min_p 0.05 leak in: tail tokens do get drawn at T=1.5."""
    req = prompter.request([{"role": "user", "content": PROMPT}], GenerationParams())
    logits = engine.next_token_logits(req.tokens)
    top = max(logits)
    probs = [math.exp(x - top) for x in logits]  # relative to the top token, T = 1
    rank = {tok: r for r, tok in enumerate(sorted(range(len(logits)), key=lambda t: -logits[t]))}
    drawn = Counter()
    for seed in range(300):
        req = prompter.request(
            [{"role": "user", "content": PROMPT}],
            GenerationParams(temperature=1.5, seed=seed, max_tokens=1),
        )
        (finish,) = [ev for ev in generate(engine, req) if isinstance(ev, Finish)]
        drawn[finish.tokens[0]] += 1
    assert any(rank[t] >= 40 for t in drawn), "no token outside the top 40 was drawn"
    assert any(probs[t] < 0.05 for t in drawn), "no token under 5% of the top was drawn"


def test_max_tokens_is_exact(engine, prompter):
    comp, _ = run(engine, prompter, temperature=0.8, seed=3, max_tokens=7)
    assert comp.completion_tokens == 7
    assert comp.finish_reason == "length"


def test_prompt_plus_max_tokens_beyond_context_runs_to_the_limit(prompter, base_config):
    small = open_engine(resolve_target(base_config, None, {}), 1, 64)
    try:
        req = Prompter(small.model).request(
            [{"role": "user", "content": "Write a long essay on the history of Rome."}],
            GenerationParams(temperature=0, max_tokens=5000),
        )
        finish = [ev for ev in generate(small, req) if isinstance(ev, Finish)][0]
        assert finish.finish_reason == "length"
        assert len(req.tokens) + finish.completion_tokens == 64
    finally:
        small.close()


def test_stop_string_across_a_token_boundary(engine, prompter):
    _, deltas = run(engine, prompter, temperature=0, max_tokens=40)
    full = "".join(deltas)
    # a stop made of the end of one token and the start of the next
    i = next(
        i for i in range(3, len(deltas) - 1) if len(deltas[i]) >= 2 and len(deltas[i + 1]) >= 2
    )
    stop = deltas[i][-2:] + deltas[i + 1][:2]
    comp, streamed = run(engine, prompter, temperature=0, max_tokens=40, stop=[stop])
    assert comp.finish_reason == "stop"
    assert comp.content == full[: full.index(stop)]
    assert stop not in comp.content
    assert "".join(streamed) == comp.content  # the stream never showed part of it


def test_penalties_follow_the_formulas_on_known_logits(engine):
    params = GenerationParams(
        temperature=0, frequency_penalty=0.5, presence_penalty=0.25, repetition_penalty=2.0
    )
    model = engine.model
    chain = build_chain(params, model.vocab, model.n_vocab, 64)
    try:
        for tok in (1, 1, 1, 2):  # token 1 generated three times, token 2 once
            lc.llama_sampler_accept(chain, tok)
        logits = [0.0] * model.n_vocab
        logits[1], logits[2], logits[3] = 3.0, -1.5, 2.0
        out = dict(apply_chain(chain, logits))
    finally:
        lc.llama_sampler_free(chain)
    assert out[1] == pytest.approx(3.0 / 2.0 - 3 * 0.5 - 0.25)
    assert out[2] == pytest.approx(-1.5 * 2.0 - 1 * 0.5 - 0.25)
    assert out[3] == pytest.approx(2.0)  # never generated: untouched


def test_penalties_reduce_repetition_on_the_model(engine, prompter):
    prompt = "Write a poem about the sea."  # greedy, it loops on its own lines

    def distinct_ratio(**p):
        comp, _ = run(engine, prompter, prompt, temperature=0, max_tokens=100, **p)
        tokens = engine.model.tokenize(comp.content)
        return len(set(tokens)) / max(1, len(tokens))

    plain = distinct_ratio()
    assert distinct_ratio(frequency_penalty=1.0) > plain
    assert distinct_ratio(presence_penalty=1.5) > plain
    assert distinct_ratio(repetition_penalty=1.5) > plain


def test_json_object_output_parses(engine, prompter):
    # A sampled run may ramble to max_tokens inside the object (how often
    # depends on the CPU's rounding), so try several seeds: every run that
    # stops is one JSON object, one cut by the limit is still the start of
    # one, and the grammar lets at least one of them close.
    stopped = 0
    for seed in (1, 2, 3, 4):
        comp, _ = run(
            engine,
            prompter,
            "Give a JSON object describing a cat with a name and an age.",
            temperature=0.7,
            seed=seed,
            max_tokens=120,
            response_format={"type": "json_object"},
        )
        assert comp.finish_reason in ("stop", "length"), comp.finish_reason
        if comp.finish_reason == "stop":
            assert isinstance(json.loads(comp.content), dict), comp.content
            stopped += 1
        else:
            assert comp.content.lstrip().startswith("{"), comp.content
    assert stopped >= 1


def test_forced_tool_call_follows_the_schema(engine, prompter):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["city", "unit"],
    }
    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": schema}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}},
    ]
    comp, _ = run(
        engine,
        prompter,
        "What is the weather in Paris?",
        temperature=0.8,
        seed=7,
        max_tokens=80,
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    assert comp.finish_reason == "tool_calls"
    (call,) = comp.tool_calls
    assert call["function"]["name"] == "get_weather"
    jsonschema.validate(json.loads(call["function"]["arguments"]), schema)


def test_tool_choice_none_never_calls(engine, prompter):
    tools = [
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
    ]
    comp, _ = run(
        engine, prompter, "What time is it?", temperature=0, max_tokens=30,
        tools=tools, tool_choice="none",
    )  # fmt: skip
    assert comp.tool_calls == [] and comp.finish_reason in ("stop", "length")


def test_cancel_finishes_live_and_queued_requests(engine, prompter):
    """Every submitted request ends in exactly one Finish, also when it is
    cancelled before it was admitted (a Ctrl-C before the first decode)."""
    params = GenerationParams(temperature=0, max_tokens=200)
    live = prompter.request([{"role": "user", "content": PROMPT}], params, request_id="live")
    queued = prompter.request([{"role": "user", "content": "Hi"}], params, request_id="queued")
    engine.submit(live)
    engine.submit(queued)  # one slot: waits behind `live`
    finishes: list[Finish] = []
    shown = False
    while not shown and engine.busy:  # until `live` shows text (its prompt takes steps)
        events = engine.step()
        finishes += [ev for ev in events if isinstance(ev, Finish)]
        shown = any(isinstance(ev, Delta) and ev.request is live for ev in events)
    engine.cancel("live")
    engine.cancel("queued")
    while engine.busy:
        finishes += [ev for ev in engine.step() if isinstance(ev, Finish)]
    done = {f.request.id: f for f in finishes}
    assert sorted(done) == ["live", "queued"] and len(finishes) == 2
    assert done["live"].finish_reason == "cancelled" and done["live"].completion_tokens >= 1
    assert done["queued"].finish_reason == "cancelled" and done["queued"].completion_tokens == 0
