"""`oruel serve`'s limits on the real model: the bounded queue (429), the API
key, CORS, the refusal to listen off loopback without a key, and the drain on
SIGTERM. Two servers: a tiny one (`--parallel 1 --queue 1`, a key, one CORS
origin) and one that is stopped by the last test.
"""

from __future__ import annotations

import os
import signal
import subprocess

import openai
import pytest
from support.serve_proc import Server, Stream, oruel_cmd, serve_env

pytestmark = pytest.mark.model

KEY = "sk-test-0123456789"
ORIGIN = "http://app.example"
USER = [{"role": "user", "content": "What is the capital of France?"}]


def long_body(items: int = 400, **kw: object) -> dict:
    """A streamed request whose grammar needs `items` numbers (2 tokens or more
    each): it runs to the context's end."""
    schema = {"type": "array", "items": {"type": "integer"}, "minItems": items}
    return {
        "messages": [{"role": "user", "content": "Numbers, please."}], "stream": True,
        "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}},
        **kw,
    }  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A second model file, `small-fast` (a hard link to the embedded model: no
    copy), and a turbo tier that routes to it."""
    from oruel_cli.models.resolve import embedded_model_path

    models = tmp_path_factory.mktemp("limits-models")
    os.link(embedded_model_path(), models / "small-fast.gguf")
    config = {"models_dirs": [str(models)], "tiers": {"turbo": {"model": "small-fast"}}}
    return serve_env(tmp_path_factory.mktemp("limits-env"), config)


@pytest.fixture(scope="module")
def tiny(env, tmp_path_factory):
    args = ["--parallel", "1", "--queue", "1", "--ctx", "512", "--cors-origin", ORIGIN,
            "--model", "default", "--model", "small-fast"]  # fmt: skip
    srv = Server(args, dict(env, ORUEL_API_KEY=KEY), tmp_path_factory.mktemp("tiny-cwd"))
    yield srv
    srv.stop()


AUTH = {"Authorization": f"Bearer {KEY}"}


def test_a_full_queue_answers_429_with_retry_after(tiny):
    running = Stream(tiny, long_body(), AUTH)
    ids = [running.first_text()["id"]]  # in the one slot
    queued = Stream(tiny, long_body(), AUTH)  # its headers came: it holds the one queue place
    assert queued.status == 200
    ids.append(next(queued.events())["id"])
    client = tiny.client(KEY)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="default", messages=USER, max_tokens=2)
    e = info.value
    assert e.status_code == 429 and e.code == "queue_full"
    assert int(e.response.headers["retry-after"]) >= 1
    running.close()
    queued.close()
    for rid in ids:  # the server saw both go (what a client would wait for: Retry-After)
        tiny.wait_log(rf"{rid} .*status=499")
    r = client.chat.completions.create(model="default", messages=USER, max_tokens=2)
    assert r.usage.completion_tokens == 2  # answered once the dropped ones were gone
    metrics = tiny.request("GET", "/metrics", headers=AUTH)[2].decode()
    assert 'oruel_requests_rejected_total{reason="queue_full"} 1.0' in metrics


def test_two_models_and_a_tier_that_routes_to_one(tiny):
    client = tiny.client(KEY)
    assert [m.id for m in client.models.list().data] == ["default", "small-fast"]
    r = client.chat.completions.create(model="small-fast", messages=USER, max_tokens=2)
    assert r.model == "small-fast"
    r = client.chat.completions.create(
        model="default", messages=USER, max_tokens=2, extra_body={"tier": "turbo"}
    )
    assert r.model == "small-fast"  # the turbo profile's model answered
    metrics = tiny.request("GET", "/metrics", headers=AUTH)[2].decode()
    assert 'oruel_completion_tokens_total{model="small-fast"} 4.0' in metrics


def test_the_api_key_is_enforced_except_on_health(tiny):
    assert tiny.request("GET", "/health")[0] == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        status, hdrs, body = tiny.request("GET", "/v1/models", headers=headers)
        assert (
            status == 401 and b'"invalid_api_key"' in body and hdrs["www-authenticate"] == "Bearer"
        )
    with pytest.raises(openai.AuthenticationError):
        tiny.client("wrong").chat.completions.create(model="default", messages=USER, max_tokens=1)
    assert tiny.client(KEY).models.list().data[0].id == "default"  # the right key
    status, _, _ = tiny.request("GET", "/metrics")
    assert status == 401


def test_cors_only_for_the_origins_given(tiny):
    pre = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization,content-type"}  # fmt: skip
    status, headers, _ = tiny.request("OPTIONS", "/v1/chat/completions", headers=pre)
    assert status == 200 and headers["access-control-allow-origin"] == ORIGIN
    _, headers, _ = tiny.request("GET", "/v1/models", headers={"Origin": ORIGIN, **AUTH})
    assert headers["access-control-allow-origin"] == ORIGIN
    _, headers, _ = tiny.request(
        "GET", "/v1/models", headers={"Origin": "http://evil.example", **AUTH}
    )
    assert "access-control-allow-origin" not in headers


def test_listening_off_loopback_needs_a_key(env):
    for extra in ([], ["--api-key", " "]):
        proc = subprocess.run(
            oruel_cmd("serve", "--host", "0.0.0.0", "--port", "0", *extra),
            env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert "api-key" in proc.stderr.lower() and "Traceback" not in proc.stderr
        assert "listening" not in proc.stderr  # refused before anything started


def test_sigterm_drains_in_flight_requests_and_exits_0(env, tmp_path_factory):
    srv = Server(
        ["--parallel", "2", "--ctx", "2048", "--shutdown-timeout", "6"],
        env, tmp_path_factory.mktemp("drain-cwd"),
    )  # fmt: skip
    try:
        endless = Stream(srv, long_body(1200))  # ~2000 tokens: far longer than the timeout
        short = Stream(srv, {"messages": USER, "stream": True, "max_tokens": 12})
        endless.first_text()
        short.first_text()
        srv.proc.send_signal(signal.SIGTERM)
        srv.wait_log("shutting down")
        status, _, body = srv.request("GET", "/health")
        assert status == 503 and b"draining" in body
        status, _, body = srv.request("POST", "/v1/chat/completions", {"messages": USER})
        assert status == 503 and b'"shutting_down"' in body
        tail = list(short.events())  # finished, not cut
        assert tail[-1] == "[DONE]", (tail, srv.log())
        assert tail[-2]["choices"][0]["finish_reason"] in ("stop", "length"), tail
        tail = list(endless.events())  # cancelled at the timeout, with an error event
        assert tail and "error" in tail[-1], (tail[-3:], srv.log())
        assert tail[-1]["error"]["code"] == "shutting_down"
        assert srv.proc.wait(timeout=120) == 0
        assert "Traceback" not in srv.log()
    finally:
        srv.kill()
