"""The engine driver on the real model: many threads share one engine, a cancel
ends one request alone, a failed decode fails only the request it hit, and a
conversation's next turn finds its own slot's KV cache."""

from __future__ import annotations

import threading
import time

import pytest
from support.shared_data import PROMPTS

from oruel_cli.backends.local import Prompter
from oruel_cli.engine.bindings import lc
from oruel_cli.engine.driver import Driver, DriverClosed, DriverFailed
from oruel_cli.engine.engine import Delta, Finish
from oruel_cli.engine.loader import open_engine, resolve_target
from oruel_cli.params.model import GenerationParams

pytestmark = pytest.mark.model

NEAR_TIE = 0.5  # logits: a gap this small between the top two is a near-tie
GREEDY = GenerationParams(temperature=0, max_tokens=24)
SIXTEEN = PROMPTS + [
    "Name a planet.",
    "What is a noun?",
    "Say hello in French.",
    "Why is water wet?",
    "List two colors.",
    "What do bees make?",
]


@pytest.fixture(scope="module")
def target(base_config):
    return resolve_target(base_config, None, {})


@pytest.fixture(scope="module")
def alone(target):
    """One sequence at a time: the reference texts."""
    with open_engine(target, 1, 1024) as engine:
        yield engine


def request(engine, prompt, params=GREEDY, rid=None):
    return Prompter(engine.model).request(
        [{"role": "user", "content": prompt}], params, request_id=rid
    )


def reference(engine, prompts, params=GREEDY):
    driver = Driver(engine)
    return {p: driver.submit(request(engine, p, params)).wait() for p in prompts}


def assert_same_or_near_tie(engine, prompt, want: list[int], got: list[int]) -> bool:
    """True when equal; else the first divergence must be a near-tie."""
    if want == got:
        return True
    k = next(i for i in range(min(len(want), len(got))) if want[i] != got[i])
    logits = engine.next_token_logits(request(engine, prompt).tokens + want[:k])
    gap = abs(logits[want[k]] - logits[got[k]])  # either side: a whole-prompt pass rounds too
    assert gap < NEAR_TIE, f"{prompt!r} diverges at token {k} with a logit gap of {gap}"
    return False


def test_sixteen_threads_share_one_driver_of_eight_slots(target, alone):
    want = reference(alone, SIXTEEN)
    with open_engine(target, 8, 1024) as engine, Driver(engine).start() as driver:
        results: dict[str, tuple[object, list]] = {}
        barrier = threading.Barrier(len(SIXTEEN))

        def client(prompt: str) -> None:
            req = request(engine, prompt)
            barrier.wait()  # all sixteen submit at once
            events = list(driver.submit(req))
            results[prompt] = (req, events)

        threads = [threading.Thread(target=client, args=(p,)) for p in SIXTEEN]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not any(t.is_alive() for t in threads)
    assert sorted(results) == sorted(SIXTEEN)
    equal = 0
    for prompt, (req, events) in results.items():
        assert all(ev.request is req for ev in events)  # only its own events reach a handle
        deltas = [ev.text for ev in events if isinstance(ev, Delta)]
        finishes = [ev for ev in events if isinstance(ev, Finish)]
        assert len(finishes) == 1 and isinstance(events[-1], Finish)
        assert "".join(deltas) == finishes[0].text
        equal += assert_same_or_near_tie(alone, prompt, want[prompt].tokens, finishes[0].tokens)
    assert equal > len(SIXTEEN) // 2, "most replies should match exactly"


def test_a_cancel_from_another_thread_ends_that_request_alone(target):
    long = GenerationParams(temperature=0, max_tokens=400)
    with open_engine(target, 2, 1024) as engine, Driver(engine).start() as driver:
        a = driver.submit(request(engine, "Write a long essay about the sea.", long))
        b = driver.submit(request(engine, "Write a long essay about the mountains.", long))
        first = next(iter(a))  # a has started generating
        assert isinstance(first, Delta)
        threading.Thread(target=a.cancel).start()
        fa, fb = a.wait(), b.wait()
    assert fa.finish_reason == "cancelled" and 0 < fa.completion_tokens < 400
    assert fb.finish_reason in ("stop", "length") and fb.error is None
    assert fb.completion_tokens > fa.completion_tokens


def test_a_call_runs_on_the_idle_engine_while_the_driver_serves(target, alone):
    tokens = request(alone, PROMPTS[0]).tokens
    want = alone.next_token_logits(tokens)
    with open_engine(target, 2, 1024) as engine, Driver(engine).start() as driver:
        busy = driver.submit(
            request(engine, PROMPTS[1], GenerationParams(temperature=0, max_tokens=40))
        )
        got = driver.call(lambda eng: eng.next_token_logits(tokens))
        assert busy.wait().completion_tokens > 0
    top = max(range(len(want)), key=want.__getitem__)
    assert max(range(len(got)), key=got.__getitem__) == top
    assert abs(got[top] - want[top]) < 1e-3


@pytest.fixture
def poisoned(monkeypatch):
    """llama_decode fails (after writing the batch's KV cells, as a half-done
    decode would) for every batch that holds the poison token."""
    real = lc.llama_decode
    state = {"token": None, "failures": 0}

    def decode(ctx, batch):
        rc = real(ctx, batch)
        if any(batch.token[i] == state["token"] for i in range(batch.n_tokens)):
            state["failures"] += 1
            return 1
        return rc

    monkeypatch.setattr(lc, "llama_decode", decode)
    return state


def poison_token(engine, poison: str, others: list[str]) -> int:
    """A token of `poison`'s prompt that no other prompt has."""
    pr = Prompter(engine.model)
    seen = set()
    for p in others:
        seen |= set(pr.request([{"role": "user", "content": p}], GREEDY).tokens)
    mine = pr.request([{"role": "user", "content": poison}], GREEDY).tokens
    return next(t for t in mine if t not in seen)


POISON = "Tell me about xylophones and zebras."


def test_a_failed_decode_fails_only_the_request_it_hit(target, alone, poisoned):
    others = PROMPTS[:3]
    want = reference(alone, others + [POISON])
    with open_engine(target, 4, 1024) as engine:
        poisoned["token"] = poison_token(engine, POISON, others)
        driver = Driver(engine)
        handles = {p: driver.submit(request(engine, p)) for p in [*others, POISON]}
        got = {p: h.wait() for p, h in handles.items()}
        assert poisoned["failures"] >= 2  # the shared batch, then the poison alone
        bad = got[POISON]
        assert bad.finish_reason == "error" and "llama_decode failed" in bad.error
        assert bad.completion_tokens == 0
        for p in others:
            assert got[p].error is None
            assert_same_or_near_tie(alone, p, want[p].tokens, got[p].tokens)
        # the KV cache and slots are consistent: the same driver goes on
        poisoned["token"] = None
        after = {p: driver.submit(request(engine, p)).wait() for p in [POISON, others[0]]}
    assert after[POISON].error is None
    assert_same_or_near_tie(alone, POISON, want[POISON].tokens, after[POISON].tokens)
    assert after[others[0]].tokens == got[others[0]].tokens or assert_same_or_near_tie(
        alone, others[0], want[others[0]].tokens, after[others[0]].tokens
    )


def test_a_failed_decode_mid_reply_keeps_what_the_others_generated(target, alone, monkeypatch):
    """A decode failing while two requests are generating: one is failed, the
    other retried alone goes on to the same text."""
    real = lc.llama_decode
    calls = {"n": 0}

    def decode(ctx, batch):
        calls["n"] += 1
        rc = real(ctx, batch)
        return 1 if calls["n"] == 6 else rc  # one failure, a few tokens in

    want = reference(alone, PROMPTS[:2])
    with open_engine(target, 2, 1024) as engine:
        driver = Driver(engine)
        monkeypatch.setattr(lc, "llama_decode", decode)
        handles = [driver.submit(request(engine, p)) for p in PROMPTS[:2]]
        got = [h.wait() for h in handles]
    # the batch of two failed; each was retried alone, both succeeded
    assert [f.error for f in got] == [None, None]
    for p, f in zip(PROMPTS[:2], got, strict=True):
        assert_same_or_near_tie(alone, p, want[p].tokens, f.tokens)


def test_a_next_turn_goes_to_the_slot_that_holds_its_history(target):
    """Turn 1 runs in slot 1 (slot 0 is busy); turn 2 extends it and, with every
    slot free, reuses turn 1's KV rather than taking the first free slot."""
    with open_engine(target, 4, 1024) as engine:
        driver = Driver(engine)
        pr = Prompter(engine.model)
        busy = driver.submit(
            request(
                engine, "Count from one to fifty.", GenerationParams(temperature=0, max_tokens=60)
            )
        )
        turn1 = [{"role": "user", "content": "My name is Ada. Say hi."}]
        first = driver.submit(pr.request(turn1, GREEDY))
        f1 = first.wait()
        busy.wait()
        turn2 = turn1 + [
            {"role": "assistant", "content": f1.text},
            {"role": "user", "content": "What is my name?"},
        ]
        f2 = driver.submit(pr.request(turn2, GREEDY)).wait()
    assert f1.prompt_tokens < f2.prompt_tokens
    assert f2.cached_tokens >= f1.prompt_tokens


def test_a_handle_iterated_to_its_end_then_waited_returns_its_finish(alone):
    handle = Driver(alone).submit(request(alone, PROMPTS[4]))
    events = list(handle)
    assert isinstance(events[-1], Finish)
    assert handle.wait() is events[-1]  # no second wait for a Finish already taken
    assert list(handle) == []


def test_oruel_run_writes_generation_failed_and_completes_the_other_lines(
    tmp_path, alone, poisoned, monkeypatch
):
    """The real `oruel run` command, in this process so that its llama_decode
    can fail for the poison line: that line gets its error record, the job
    goes on, and the exit code is 1."""
    import json
    import sys

    from oruel_cli.cli.main import main

    others = PROMPTS[:5]
    poisoned["token"] = poison_token(alone, POISON, others)
    rows = [{"id": f"ok{i}", "prompt": p} for i, p in enumerate(others)]
    rows.insert(2, {"id": "bad", "prompt": POISON})
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["oruel", "run", str(jobs), "--parallel", "4", "--temperature", "0", "--max-tokens", "8"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 1
    recs = {}
    for line in (tmp_path / "jobs.results.jsonl").read_text().splitlines():
        rec = json.loads(line)
        recs[rec["id"]] = rec
    assert sorted(recs) == sorted(r["id"] for r in rows)
    assert recs["bad"]["output"] is None
    assert recs["bad"]["error"]["code"] == "generation_failed"
    assert recs["bad"]["error"]["line"] == 3
    assert all(recs[f"ok{i}"]["error"] is None and recs[f"ok{i}"]["output"] for i in range(5))


def test_a_step_that_raises_fails_every_request_and_refuses_later_ones(target, monkeypatch):
    """A bug in a step, on the driver's own thread: the two running requests,
    the two queued in the engine and the two still in the inbox all get an
    error Finish at once, the failure is reported once, and the driver refuses
    every later submit or call at once instead of leaving callers waiting."""
    long = GenerationParams(temperature=0, max_tokens=400)
    with open_engine(target, 2, 1024) as engine:
        real, steps = engine.step, {"n": 0}
        in_step, go = threading.Event(), threading.Event()

        def step(admit: bool = True):
            steps["n"] += 1
            if steps["n"] == 5:  # a few tokens in
                in_step.set()
                go.wait()
                raise ValueError("boom in a step")
            return real(admit)

        monkeypatch.setattr(engine, "step", step)
        reports: list[str] = []
        reported = threading.Event()

        def report(line: str) -> None:
            reports.append(line)
            reported.set()

        driver = Driver(engine).start(report=report)
        try:
            prompts = ["Write a long essay about the sea.", *PROMPTS[:3]]
            handles = [driver.submit(request(engine, p, long)) for p in prompts]
            assert in_step.wait(120)
            # the driver is inside the failing step: these two wait in its inbox
            handles += [driver.submit(request(engine, p, long)) for p in PROMPTS[3:5]]
            go.set()
            finishes = [driver_wait(h, 1.0) for h in handles]
            for f in finishes:
                assert f.finish_reason == "error", f
                assert f.error == "the engine stopped: ValueError: boom in a step"
            assert reported.wait(1.0)
            assert reports == ["error: the engine stopped: ValueError: boom in a step"]
            assert driver.failed == finishes[0].error
            t0 = time.monotonic()
            with pytest.raises(DriverFailed, match="boom in a step"):
                driver.submit(request(engine, PROMPTS[0]))
            with pytest.raises(DriverFailed, match="boom in a step"):
                driver.call(lambda eng: eng.live)
            assert time.monotonic() - t0 < 0.5
            assert driver.pending == 0
        finally:
            go.set()
            driver.close()  # and closing a failed driver does not hang either
    assert reports == ["error: the engine stopped: ValueError: boom in a step"]


def driver_wait(handle, seconds: float) -> Finish:
    """The handle's Finish, failing the test if it takes longer than `seconds`."""
    got: list[Finish] = []
    t = threading.Thread(target=lambda: got.append(handle.wait()), daemon=True)
    t.start()
    t.join(seconds)
    assert got, f"no Finish for {handle.id} within {seconds} s"
    return got[0]


def test_close_cancels_what_is_still_in_the_inbox_and_refuses_later_submits(target):
    with open_engine(target, 1, 1024) as engine:
        driver = Driver(engine)
        handles = [driver.submit(request(engine, p)) for p in PROMPTS[:3]]  # never stepped
        driver.close()
        for h in handles:
            assert h.done and h.finish.finish_reason == "cancelled"
            assert h.finish.completion_tokens == 0 and h.finish.error is None
            assert isinstance(h.wait(), Finish)
        with pytest.raises(DriverClosed, match="closed"):
            driver.submit(request(engine, PROMPTS[0]))
