"""The numbers behind `params explain --demo`, on the real model, against a
reference computed here from the same raw logits in plain Python: a softmax
with temperature, then the top-k, nucleus and min-p cuts written out, and
the three penalty formulas. The demo gets its numbers from llama.cpp's own
sampler stages, so agreement (within float32 rounding) says the picture
shows what generation does."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from oruel_cli.backends.local import LocalBackend
from oruel_cli.demo.compute import cut_params, distribution, penalties
from oruel_cli.engine.loader import resolve_target
from oruel_cli.params.model import GenerationParams

pytestmark = pytest.mark.model

PROMPT = "What is the capital of Italy?"
POEM = "Write a short poem about the sea."
TOL = 1e-5  # float32 rounding of logits near 20, then a softmax
ROWS = 60
F32_SUM = 5e-4  # float32 sums over the whole vocabulary (see ref_top_p)


@pytest.fixture(scope="module")
def backend(base_config):
    with LocalBackend.load(resolve_target(base_config, None, {}), ctx=512) as b:
        yield b


def text_of(backend):
    return lambda t: backend.model.token_bytes(t, special=True).decode("utf-8", "replace")


def prompt_tokens(backend, prompt: str) -> list[int]:
    return backend.prepare([{"role": "user", "content": prompt}], GenerationParams()).tokens


@pytest.fixture(scope="module")
def logits(backend) -> list[float]:
    tokens = prompt_tokens(backend, PROMPT)
    return backend.driver.call(lambda engine: engine.next_token_logits(tokens))


# -- the reference, written out -------------------------------------------------


def ref_softmax(logits: list[float], temperature: float = 1.0) -> list[float]:
    scaled = [x / temperature for x in logits]
    top = max(scaled)
    exps = [math.exp(x - top) for x in scaled]
    total = sum(exps)
    return [e / total for e in exps]


def by_probability(p: list[float]) -> list[int]:
    return sorted(range(len(p)), key=lambda i: -p[i])


def renormalised(p: list[float], kept: set[int]) -> dict[int, float]:
    total = sum(p[i] for i in kept)
    return {i: p[i] / total for i in kept}


def ref_top_k(p: list[float], k: int) -> set[int]:
    return set(by_probability(p)[:k])


def ref_top_p(p: list[float], top_p: float, got: int) -> set[int]:
    """The smallest set of most probable tokens whose probability reaches top_p.

    llama.cpp normalises and adds up in float32, one token after another:
    over the 49,152-token vocabulary its sum of exponentials comes out about
    2e-4 (relative) below the exact one (7.2579 against 7.2591 here at
    temperature 1.2), so its cumulative mass can reach top_p a token or two
    before the exact one does, deep in the tail. The size it found (`got`) is
    taken when the exact mass there reaches top_p within that rounding and
    one token fewer does not; any other size fails.
    """
    order, mass, sizes = by_probability(p), 0.0, []
    for n, i in enumerate(order, start=1):
        before, mass = mass, mass + p[i]
        if mass >= top_p - F32_SUM and before < top_p + F32_SUM:
            sizes.append(n)
        if mass >= top_p + F32_SUM:
            break
    exact = next(n for n in sizes if sum(p[i] for i in order[:n]) >= top_p)
    assert got in sizes, (got, exact, sizes)
    return set(order[:got])


def ref_min_p(p: list[float], min_p: float) -> set[int]:
    top = max(p)
    return {i for i, x in enumerate(p) if x >= min_p * top}


def check(pic, p_before: list[float], kept: set[int]) -> None:
    """Every row's before and after equal the reference; the kept set's size too."""
    after = renormalised(p_before, kept)
    assert pic.kept == len(kept)
    assert pic.kept_mass == pytest.approx(sum(p_before[i] for i in kept), abs=TOL)
    assert len(pic.rows) == min(ROWS, sum(1 for x in p_before if x > 0))
    for row in pic.rows:
        assert row.p_before == pytest.approx(p_before[row.id], abs=TOL)
        assert row.kept == (row.id in kept), row
        assert row.p_after == pytest.approx(after.get(row.id, 0.0), abs=TOL)
    # the rows are the most probable tokens before the stage, in order
    assert [r.id for r in pic.rows][:5] == by_probability(p_before)[:5]


# -- temperature and the three cuts ---------------------------------------------------


@pytest.mark.parametrize("temperature", [0.3, 0.7, 1.0, 1.5, 2.0])
def test_temperature_reshapes_as_softmax_of_logits_over_t(backend, logits, temperature):
    params = GenerationParams(temperature=temperature)
    pic = distribution(logits, "temperature", params, text_of(backend), ROWS)
    raw, scaled = ref_softmax(logits), ref_softmax(logits, temperature)
    assert pic.stage == "temperature" and pic.kept == len(logits)
    for row in pic.rows:
        assert row.p_before == pytest.approx(raw[row.id], abs=TOL)
        assert row.p_after == pytest.approx(scaled[row.id], abs=TOL)


def test_temperature_zero_is_the_argmax_with_certainty(backend, logits):
    pic = distribution(logits, "temperature", GenerationParams(temperature=0), text_of(backend))
    argmax = max(range(len(logits)), key=lambda i: logits[i])
    assert pic.stage == "greedy" and pic.selected == argmax and pic.kept == 1
    assert pic.rows[0].id == argmax and pic.rows[0].p_after == 1.0
    assert all(not r.kept and r.p_after == 0 for r in pic.rows[1:])


@pytest.mark.parametrize("k", [1, 3, 10, 40, 150])
def test_top_k_keeps_the_k_most_probable(backend, logits, k):
    params = GenerationParams(temperature=0.7, top_k=k)
    pic = distribution(logits, "top_k", params, text_of(backend), ROWS)
    p = ref_softmax(logits, 0.7)
    check(pic, p, ref_top_k(p, k))
    assert pic.before == ["temperature 0.7"]


@pytest.mark.parametrize("top_p", [0.05, 0.3, 0.5, 0.8, 0.9, 0.95])
@pytest.mark.parametrize("temperature", [0.5, 1.2])
def test_top_p_keeps_the_smallest_set_reaching_p(backend, logits, top_p, temperature):
    params = GenerationParams(temperature=temperature, top_p=top_p)
    pic = distribution(logits, "top_p", params, text_of(backend), ROWS)
    p = ref_softmax(logits, temperature)
    check(pic, p, ref_top_p(p, top_p, pic.kept))


@pytest.mark.parametrize("min_p", [0.01, 0.05, 0.1, 0.3, 0.9])
def test_min_p_drops_tokens_below_min_p_times_the_top(backend, logits, min_p):
    params = GenerationParams(temperature=0.8, min_p=min_p)
    pic = distribution(logits, "min_p", params, text_of(backend), ROWS)
    p = ref_softmax(logits, 0.8)
    check(pic, p, ref_min_p(p, min_p))


def test_a_cut_is_shown_after_the_users_earlier_stages(backend, logits):
    """top_p with the user's top_k 10: top_p works within the ten, renormalised."""
    params = GenerationParams(temperature=0.9, top_k=10, top_p=0.6, min_p=0.5)
    pic = distribution(logits, "top_p", params, text_of(backend), ROWS)
    p = ref_softmax(logits, 0.9)
    ten = renormalised(p, ref_top_k(p, 10))
    within = [ten.get(i, 0.0) for i in range(len(p))]
    check(pic, within, ref_top_p(within, 0.6, pic.kept))
    assert pic.before == ["temperature 0.9", "top_k 10"]  # min_p comes after: not applied


def test_an_off_value_keeps_everything(backend, logits):
    for name, params in (
        ("top_k", GenerationParams(temperature=0.7, top_k=0)),
        ("top_p", GenerationParams(temperature=0.7, top_p=1.0)),
        ("min_p", GenerationParams(temperature=0.7, min_p=0.0)),
    ):
        pic = distribution(logits, name, params, text_of(backend), ROWS)
        assert pic.stage is None and pic.kept == len(logits)
        assert all(r.p_after == pytest.approx(r.p_before, abs=TOL) for r in pic.rows)


def test_a_cut_at_temperature_zero_is_shown_after_temperature_one():
    assert cut_params(GenerationParams(temperature=0, top_k=5)).temperature == 1.0
    assert cut_params(GenerationParams(temperature=0.4)).temperature == 0.4


# -- penalties ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def prefixed(backend):
    """A greedy prefix of the poem (it repeats commas and words), and the logits after it."""
    req = backend.prepare(
        [{"role": "user", "content": POEM}], GenerationParams(temperature=0, max_tokens=32)
    )
    finish = backend.submit(req).wait()
    prefix = [t for t in finish.tokens if not backend.model.is_eog(t)]
    after = backend.driver.call(lambda e: e.next_token_logits(req.tokens + prefix))
    return prefix, after


def formula(x: float, count: int, freq: float, pres: float, rep: float) -> float:
    if count == 0:
        return x
    x = x / rep if x > 0 else x * rep
    return x - count * freq - pres


@pytest.mark.parametrize(
    "name, value",
    [
        ("frequency_penalty", 0.5), ("frequency_penalty", 2.0), ("frequency_penalty", -1.0),
        ("presence_penalty", 0.5), ("presence_penalty", 1.5), ("presence_penalty", -2.0),
        ("repetition_penalty", 1.3), ("repetition_penalty", 3.0), ("repetition_penalty", 0.5),
    ],
)  # fmt: skip
def test_penalties_move_the_logits_of_generated_tokens_by_the_formula(
    backend, prefixed, name, value
):
    prefix, logits = prefixed
    params = GenerationParams(**{name: value})
    pic = penalties(logits, prefix, params, text_of(backend))
    counts = {t: prefix.count(t) for t in set(prefix)}
    assert max(counts.values()) >= 3  # the prefix does repeat itself
    assert {r.id: r.count for r in pic.rows} == counts
    p = params
    for row in pic.rows:
        want = formula(logits[row.id], row.count, p.frequency_penalty, p.presence_penalty,
                       p.repetition_penalty)  # fmt: skip
        assert row.logit_before == logits[row.id]
        assert row.logit_after == pytest.approx(want, abs=TOL), row
        assert row.formula.endswith(f"= {want:.2f}")
    assert pic.moved == len(counts)  # only the tokens already generated move


def test_the_three_penalties_together(backend, prefixed):
    prefix, logits = prefixed
    params = GenerationParams(frequency_penalty=0.4, presence_penalty=0.3, repetition_penalty=1.2)
    pic = penalties(logits, prefix, params, text_of(backend))
    for row in pic.rows:
        want = formula(logits[row.id], row.count, 0.4, 0.3, 1.2)
        assert row.logit_after == pytest.approx(want, abs=TOL)
    assert "/ 1.2 − " in pic.rows[0].formula


def test_the_next_token_follows_the_penalised_logits(backend, prefixed):
    prefix, logits = prefixed
    pic = penalties(logits, prefix, GenerationParams(presence_penalty=2.0), text_of(backend))
    want = [formula(x, prefix.count(i), 0, 2.0, 1) for i, x in enumerate(logits)]
    assert pic.next_before == max(range(len(logits)), key=lambda i: logits[i])
    assert pic.next_after == max(range(len(want)), key=lambda i: want[i])


# -- the command -------------------------------------------------------------------


def oruel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oruel_cli", *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_output_json_gives_the_same_numbers(logits):
    """The command's numbers (its own process, its own engine) equal the reference
    from this process's logits."""
    res = oruel("params", "explain", "min_p", "--demo", PROMPT, "--values", "0.05,0.2",
                "--temperature", "0.9", "--output-json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["parameter"] == "min_p" and out["values"] == [0.05, 0.2]
    assert out["cut_after_temperature"] == 0.9
    p = ref_softmax(logits, 0.9)
    for pic, min_p in zip(out["pictures"], (0.05, 0.2), strict=True):
        kept = ref_min_p(p, min_p)
        after = renormalised(p, kept)
        assert pic["kept"] == len(kept)
        for row in pic["rows"]:
            assert set(row) == {"id", "text", "p_before", "p_after", "kept"}
            assert row["p_before"] == pytest.approx(p[row["id"]], abs=TOL)
            assert row["p_after"] == pytest.approx(after.get(row["id"], 0.0), abs=TOL)
            assert row["kept"] == (row["id"] in kept)


def test_demo_generations_seed_and_max_tokens():
    res = oruel("params", "explain", "seed", "--demo", POEM, "--values", "3,4",
                "--max-tokens", "10", "--output-json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    gens = json.loads(res.stdout)["generations"]
    by_seed = {}
    for g in gens:
        by_seed.setdefault(g["seed"], []).append(g["text"])
    assert list(by_seed) == [3, 4]
    assert all(a == b and a for a, b in by_seed.values())  # equal seeds, equal replies

    res = oruel("params", "explain", "max_tokens", "--demo", POEM, "--values", "3,9",
                "-t", "0", "--output-json")  # fmt: skip
    gen = json.loads(res.stdout)["generation"]
    assert len(gen["tokens"]) == 9 and gen["finish_reason"] == "length"
    ask = oruel("ask", "-t", "0", "--max-tokens", "3", POEM)
    assert ask.stdout.strip() == "".join(gen["pieces"][:3]).strip()
