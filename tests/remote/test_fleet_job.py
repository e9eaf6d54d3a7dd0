"""The fleet scheduler's decisions, with stand-in endpoints that answer as told
(a success, a refusal, a dead server), so each rule is seen in milliseconds:
retried elsewhere, never retried, at most five attempts, an endpoint taken out
and probed back in, a clean stop with every endpoint down. The real servers
are in test_endpoint.py."""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from pathlib import Path

from oruel_cli.backends.endpoints import Endpoint
from oruel_cli.backends.remote_errors import RemoteError
from oruel_cli.batch.output import ResultWriter
from oruel_cli.batch.reader import read_batch
from oruel_cli.batch.sink import JobSink
from oruel_cli.config import Config
from oruel_cli.engine.reply import Completion
from oruel_cli.fleet.job import MAX_ATTEMPTS, FleetJob
from oruel_cli.params.layering import ParamResolver

A, B = "http://a/v1", "http://b/v1"


class StandIn:
    """A FleetBackend (RemoteBackend's surface, as FleetJob declares it):
    `answer(url, line_id)` says what each request gets."""

    def __init__(self, urls, answer, models_ok=lambda url: True) -> None:  # noqa: ANN001
        self.endpoints = [Endpoint(u) for u in urls]
        self.template_kwargs: dict[str, object] = {}
        self.answer = answer
        self.models_ok = models_ok
        self.sent: list[tuple[str, str]] = []
        self.models: dict[str, str | None] = {}
        self.lock = threading.Lock()

    def endpoint(self, url: str) -> Endpoint:
        return next(e for e in self.endpoints if e.url == url)

    def send(self, ep, fields, params, line_model, tier_model):  # noqa: ANN001, ANN201
        line_id = fields["messages"][-1]["content"]
        with self.lock:
            self.sent.append((ep.url, line_id))
            self.models[line_id] = line_model or tier_model
        result = self.answer(ep.url, line_id)
        if isinstance(result, RemoteError):
            raise result
        return Completion(
            id="chatcmpl-x", model="m", content=f"ok {line_id}", finish_reason="stop",
            prompt_tokens=3, completion_tokens=2, seconds=0.01,
        )  # fmt: skip

    def list_models(self, ep):  # noqa: ANN001, ANN201
        if not self.models_ok(ep.url):
            raise RemoteError(ep.url, "connection", "connection refused")
        return ["m"]


def run_job(
    tmp_path: Path,
    ids: list[str],
    backend: StandIn,
    done=(),
    timeout: float = 30.0,
    clock=time.monotonic,
):  # noqa: ANN001, ANN201, E501
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps({"id": i, "prompt": i}) + "\n" for i in ids))
    out = tmp_path / "out.jsonl"
    with ResultWriter(out) as writer:
        job = FleetJob(
            backend, ParamResolver(Config(), None, {}), JobSink(writer, set(done)), parallel=2,
            timeout=timeout, rng=random.Random(0), clock=clock,
        )  # fmt: skip
        stats = job.run(read_batch(jobs))
    records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return stats, {r["id"]: r for r in records}, records


def dead(url: str) -> RemoteError:
    return RemoteError(url, "connection", "connection refused")


def test_all_lines_spread_over_both_endpoints(tmp_path):
    backend = StandIn([A, B], lambda url, i: None)
    stats, by_id, records = run_job(tmp_path, [f"l{i}" for i in range(20)], backend)
    assert stats.ok == 20 and stats.failed == 0 and len(records) == 20
    assert {r["endpoint"] for r in records} == {A, B}
    assert all(r["attempts"] == 1 and r["output"] == f"ok {r['id']}" for r in records)
    assert stats.completion_tokens == 40


def test_a_dead_endpoint_loses_nothing(tmp_path):
    backend = StandIn([A, B], lambda url, i: dead(url) if url == A else None)
    stats, by_id, records = run_job(tmp_path, [f"l{i}" for i in range(30)], backend)
    assert stats.ok == 30 and len(records) == 30
    assert all(r["endpoint"] == B and r["error"] is None for r in records)
    assert max(r["attempts"] for r in records) == 2  # failed once on A at most, then B
    sent_to_a = [i for url, i in backend.sent if url == A]
    assert len(sent_to_a) <= 3 + 2  # out of rotation after three failures (two more in flight)


def test_a_400_is_the_line_error_and_never_retried(tmp_path):
    def answer(url: str, i: str):  # noqa: ANN202
        if i == "bad":
            return RemoteError(
                url, "status", "invalid temperature 9", 400, code="invalid_parameter"
            )
        return None

    backend = StandIn([A, B], answer)
    stats, by_id, _ = run_job(tmp_path, ["x", "bad", "y"], backend)
    assert stats.ok == 2 and stats.failed == 1
    err = by_id["bad"]["error"]
    assert (
        err["code"] == "invalid_parameter" and err["message"] == "HTTP 400: invalid temperature 9"
    )
    assert by_id["bad"]["attempts"] == 1 and [i for _, i in backend.sent].count("bad") == 1


def test_429_goes_elsewhere(tmp_path):
    backend = StandIn(
        [A, B], lambda url, i: RemoteError(url, "status", "busy", 429, 60.0) if url == A else None
    )
    stats, by_id, records = run_job(tmp_path, [f"l{i}" for i in range(6)], backend)
    assert stats.ok == 6 and all(r["endpoint"] == B for r in records)
    assert len([1 for url, _ in backend.sent if url == A]) <= 2  # cooled down for 60 s after


def stepping_clock(step: float):  # noqa: ANN201 - a clock
    """A clock that moves `step` seconds each time the job reads it: the job's
    waits and timeouts pass without the test waiting for them."""
    ticks = itertools.count()
    return lambda: next(ticks) * step


def test_at_most_five_attempts(tmp_path):
    flaky = RemoteError(A, "status", "overloaded", 503)
    backend = StandIn([A], lambda url, i: flaky if i == "doomed" else None)
    stats, by_id, _ = run_job(tmp_path, ["doomed"], backend)
    rec = by_id["doomed"]
    assert stats.failed == 1 and rec["attempts"] <= MAX_ATTEMPTS
    # a single endpoint failing three times in a row goes out; its probe answers, so it comes back
    assert rec["error"]["code"] == "http_503" and "gave up after" in rec["error"]["message"]
    assert rec["attempts"] == MAX_ATTEMPTS


def test_every_endpoint_down_stops_and_resume_completes(tmp_path):
    down = StandIn([A, B], lambda url, i: dead(url), models_ok=lambda url: False)
    clock = stepping_clock(0.5)
    stats, by_id, records = run_job(tmp_path, ["p", "q", "r"], down, timeout=30.0, clock=clock)
    assert stats.stopped and "down" in stats.stopped and not stats.interrupted
    assert records == []  # no record: a resume runs them
    back = StandIn([A, B], lambda url, i: None)
    stats, by_id, records = run_job(tmp_path, ["p", "q", "r"], back)
    assert stats.ok == 3 and stats.stopped is None


def test_401_everywhere_stops_at_once(tmp_path):
    backend = StandIn([A, B], lambda url, i: RemoteError(url, "status", "bad key", 401))
    stats, _, records = run_job(tmp_path, ["p", "q"], backend)
    assert stats.stopped and "401" in stats.stopped
    assert all(r["error"] is None or r["attempts"] >= 1 for r in records)


def test_resume_skips_done_ids_and_bad_lines_get_records(tmp_path):
    backend = StandIn([A], lambda url, i: None)
    stats, by_id, _ = run_job(tmp_path, ["a", "b", "c"], backend, done={"a"})
    assert stats.skipped == 1 and stats.ok == 2 and set(by_id) == {"b", "c"}
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"id": "t", "prompt": "t", "temperature": 9}\nnot json\n')
    out = tmp_path / "bad.jsonl"
    with ResultWriter(out) as writer:
        job = FleetJob(backend, ParamResolver(Config(), None, {}), JobSink(writer, set()), 2, 5.0)
        stats = job.run(read_batch(jobs))
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert stats.failed == 2 and [r["error"]["code"] for r in recs] == [
        "invalid_parameter",
        "invalid_json",
    ]
    assert all(r["attempts"] == 0 and r["endpoint"] is None for r in recs)


def test_a_turbo_line_asks_for_its_tier_model_and_goes_first(tmp_path):
    cfg = Config.model_validate(
        {"tiers": {"turbo": {"model": "fast", "params": {"max_tokens": 5}}},
         "aliases": {"fast": "org/fast-1b"}}
    )  # fmt: skip
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        '{"id": "s", "prompt": "s"}\n{"id": "t", "prompt": "t", "tier": "turbo"}\n'
        '{"custom_id": "o", "method": "POST", "url": "/v1/chat/completions",'
        ' "body": {"model": "gpt-x", "messages": [{"role": "user", "content": "o"}]}}\n'
    )
    backend = StandIn([A], lambda url, i: None)
    with ResultWriter(tmp_path / "out.jsonl") as writer:
        job = FleetJob(backend, ParamResolver(cfg, None, {}), JobSink(writer, set()), 1, 5.0)
        stats = job.run(read_batch(jobs))
    assert stats.ok == 3
    assert backend.models == {"s": None, "t": "org/fast-1b", "o": "gpt-x"}
    assert backend.sent[0][1] == "t"  # turbo first among the lines read ahead


def test_each_success_is_handed_to_the_reply_log_with_its_endpoint(tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"id": "a", "prompt": "a"}\n{"id": "b", "prompt": "b", "temperature": 9}\n')
    got = []
    backend = StandIn([A], lambda url, i: None)
    with ResultWriter(tmp_path / "out.jsonl") as writer:
        job = FleetJob(
            backend, ParamResolver(Config(), None, {}),
            JobSink(writer, set(), on_reply=lambda messages, resolved, comp, url: got.append(
                (messages, comp.content, url))),
            1, 5.0,
        )  # fmt: skip
        job.run(read_batch(jobs))
    assert got == [([{"role": "user", "content": "a"}], "ok a", A)]  # not the failed line
