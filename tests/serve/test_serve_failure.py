"""A real `oruel serve` whose engine breaks: a step that raises (injected with
the driver's test hook, ORUEL_TEST_FAIL_STEP) fails the streamed request in
flight and the one queued behind it with 503, reports once, and from then on
the server answers 503 at once and /health fails, instead of leaving every
client waiting; SIGTERM still stops it."""

from __future__ import annotations

import json
import threading
import time

import openai
import pytest
from support.serve_proc import Server, Stream, serve_env

from oruel_cli.engine.driver import FAULT_ENV

pytestmark = pytest.mark.model

FAIL_AT = 40  # the step that raises: the long stream is some tokens in by then
USER = [{"role": "user", "content": "What is the capital of France?"}]
STOPPED = f"the engine stopped: RuntimeError: fault injected at step {FAIL_AT} ({FAULT_ENV})"


def long_body(stream: bool) -> dict:
    """A request whose grammar needs 400 numbers: it runs to the context's end."""
    schema = {"type": "array", "items": {"type": "integer"}, "minItems": 400}
    return {
        "messages": [{"role": "user", "content": "Numbers, please."}], "stream": stream,
        "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}},
    }  # fmt: skip


def wait_for(check, what: str, timeout: float = 60):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if got := check():
            return got
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_step_that_raises_fails_requests_with_503_and_fails_health(tmp_path_factory):
    env = serve_env(tmp_path_factory.mktemp("fail-env"), {}, **{FAULT_ENV: str(FAIL_AT)})
    srv = Server(["--parallel", "1", "--ctx", "512"], env, tmp_path_factory.mktemp("fail-cwd"))
    try:
        running = Stream(srv, long_body(stream=True))
        running.first_text()  # in the one slot
        queued: list[tuple[int, dict, bytes]] = []
        thread = threading.Thread(
            target=lambda: queued.append(
                srv.request("POST", "/v1/chat/completions", long_body(False))
            )
        )
        thread.start()
        wait_for(
            lambda: srv.metrics().get('oruel_requests_queued{model="default"}') == 1,
            "a queued request",
        )
        assert srv.request("GET", "/health")[0] == 200  # queued before the step that raises

        events = list(running.events())  # the stream ends instead of hanging
        assert events and events[-1]["error"]["code"] == "engine_failed", events[-1:]
        assert STOPPED in events[-1]["error"]["message"]
        thread.join(60)
        status, _, body = queued[0]
        error = json.loads(body)["error"]
        assert status == 503 and error["code"] == "engine_failed" and STOPPED in error["message"]

        t0 = time.monotonic()
        with pytest.raises(openai.APIStatusError) as info:
            srv.client().chat.completions.create(model="default", messages=USER, max_tokens=2)
        assert info.value.status_code == 503 and info.value.code == "engine_failed"
        status, _, body = srv.request("GET", "/health")
        assert status == 503 and json.loads(body) == {"status": "failed", "error": STOPPED}
        assert time.monotonic() - t0 < 5  # refused at once, not queued
        srv.wait_log("^oruel serve: error:")
        reported = [ln for ln in srv.lines if ln.startswith("oruel serve: error:")]
        assert reported == [f"oruel serve: error: {STOPPED}"]  # once
        running.close()
        assert srv.stop() == 0
        assert "Traceback" not in srv.log()
    finally:
        srv.kill()
