"""`--endpoint` against real `oruel serve` processes on loopback ports: ask and
chat print as they do locally, and `oruel run` over two servers keeps every
promise of a local job when one of them is killed, when all are down, when a
server refuses a line (400) and when one answers 429.

The 429 comes from a stand-in (a few lines of Starlette, in this process):
`oruel serve` answers 429 only when its queue is full, which no test can time.
Every successful reply comes from a real `oruel serve`.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support.serve_proc import Server, serve_env
from support.watch import finish, start, wait_until

pytestmark = pytest.mark.model

CTX = 256
PROMPT = "What is the capital of France?"


def oruel(*args: str, stdin: str | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oruel_cli", *args],
        input=stdin, capture_output=True, text=True, timeout=timeout,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_jobs(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def count_records(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return serve_env(tmp_path_factory.mktemp("endpoint-env"), {})


@pytest.fixture(scope="module")
def server(env, tmp_path_factory):
    srv = Server(["--ctx", str(CTX), "--parallel", "2"], env, tmp_path_factory.mktemp("srv-a"))
    yield srv
    srv.stop()


def test_ask_output_json_has_the_local_reply(server):
    args = ["--temperature", "0", "--max-tokens", "24", PROMPT]
    remote = oruel("ask", "--endpoint", server.base_url, "--output-json", *args)
    assert remote.returncode == 0, remote.stderr
    reply = json.loads(remote.stdout)
    assert reply["object"] == "chat.completion" and reply["model"] == "default"
    assert reply["usage"]["completion_tokens"] > 0
    local = oruel("ask", *args)
    assert local.returncode == 0, local.stderr
    assert reply["choices"][0]["message"]["content"] == local.stdout.removesuffix("\n")
    assert "tok/s" in remote.stderr and "finish:" in remote.stderr  # the same stats line


def test_ask_fails_over_and_a_dead_fleet_is_one_line_exit_1(server):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    res = oruel("ask", "--endpoint", dead, "--endpoint", server.base_url, "--max-tokens", "4",
                "--ctx", "64", "hi")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() and "--ctx has no effect with --endpoint" in res.stderr
    res = oruel("ask", "--endpoint", dead, "hi")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip() == (
        f"oruel: error: the endpoint failed: {dead}: connection refused (is the server running?)"
    )


def test_chat_holds_a_conversation(server, tmp_path):
    script = "My name is Ann and I live in Oslo.\nWhat is my name?\n/save " + str(
        tmp_path / "c.json"
    )
    res = oruel("chat", "--endpoint", server.base_url, "--temperature", "0", "--max-tokens", "20",
                stdin=script + "\n")  # fmt: skip
    assert res.returncode == 0, res.stderr
    stats = [ln for ln in res.stderr.splitlines() if "tok/s" in ln]
    assert len(stats) == 2, res.stderr
    prompts = [int(ln.split("prompt ")[1].split(" new")[0]) for ln in stats]
    assert prompts[1] > prompts[0] + 5  # the second request carried the first exchange
    messages = json.loads((tmp_path / "c.json").read_text())["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert all(m["content"] for m in messages)


def test_a_job_over_two_servers_survives_one_killed(server, env, tmp_path):
    (tmp_path / "b-cwd").mkdir()
    other = Server(["--ctx", str(CTX), "--parallel", "2"], env, tmp_path / "b-cwd")
    rows = [{"id": f"k{i}", "prompt": f"Write a sentence about the number {i}.",
             "max_tokens": 24} for i in range(24)]  # fmt: skip
    jobs = write_jobs(tmp_path / "k.jsonl", rows)
    out = tmp_path / "k.results.jsonl"
    try:
        proc, stdout, stderr = start(
            [sys.executable, "-m", "oruel_cli", "run", str(jobs), "--endpoint", server.base_url,
             "--endpoint", other.base_url, "--parallel", "2"]
        )  # fmt: skip
        wait_until(lambda: count_records(out) >= 4, "4 records")
        other.proc.send_signal(signal.SIGKILL)
        rc, _, err = finish(proc, stdout, stderr, timeout=300)
    finally:
        other.kill()
    assert rc == 0, err
    recs = records(out)
    assert sorted(r["id"] for r in recs) == sorted(r["id"] for r in rows)  # each id once
    assert all(r["error"] is None and r["output"] for r in recs)
    assert server.base_url in {r["endpoint"] for r in recs}
    assert all(r["attempts"] >= 1 for r in recs)
    assert f"endpoint {other.base_url} is out of rotation" in " ".join(err.split())


def test_every_endpoint_down_exits_1_and_resume_completes(env, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    rows = [{"id": f"d{i}", "prompt": f"Say {i}.", "max_tokens": 4} for i in range(4)]
    jobs = write_jobs(tmp_path / "d.jsonl", rows)
    out = tmp_path / "d.results.jsonl"
    res = oruel("run", str(jobs), "--endpoint", url, "--timeout", "2")
    assert res.returncode == 1, res.stderr
    err = " ".join(res.stderr.split())
    assert "every endpoint has been down for 2 s" in err and "--resume" in err
    assert "Traceback" not in res.stderr and count_records(out) == 0
    (tmp_path / "back-cwd").mkdir()
    back = Server(["--port", str(port), "--ctx", str(CTX)], env, tmp_path / "back-cwd")
    try:
        res = oruel("run", str(jobs), "--endpoint", url, "--resume")
    finally:
        back.stop()
    assert res.returncode == 0, res.stderr
    recs = records(out)
    assert sorted(r["id"] for r in recs) == [f"d{i}" for i in range(4)]
    assert all(r["error"] is None and r["endpoint"] == url for r in recs)


def test_a_line_the_server_refuses_gets_its_message_and_no_retry(server, tmp_path):
    rows = [
        {"id": "fits", "prompt": "Say yes.", "max_tokens": 4},
        {"id": "too-long", "prompt": "word " * 400, "max_tokens": 4},
    ]
    jobs = write_jobs(tmp_path / "r.jsonl", rows)
    res = oruel("run", str(jobs), "--endpoint", server.base_url)
    assert res.returncode == 1, res.stderr
    by_id = {r["id"]: r for r in records(tmp_path / "r.results.jsonl")}
    assert by_id["fits"]["error"] is None
    bad = by_id["too-long"]
    assert bad["output"] is None and bad["attempts"] == 1 and bad["endpoint"] == server.base_url
    assert bad["error"]["code"] == "context_length_exceeded" and bad["error"]["line"] == 2
    assert bad["error"]["message"].startswith("HTTP 400: the prompt is ")
    assert f"context of {CTX} tokens" in bad["error"]["message"]


class Busy:
    """A server that answers every chat request 429 with Retry-After (and lists a model)."""

    def __init__(self) -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        self.hits = 0

        async def chat(request):  # noqa: ANN001, ANN202
            self.hits += 1
            body = {"error": {"message": "busy", "type": "rate_limit", "param": None, "code": None}}
            return JSONResponse(body, status_code=429, headers={"Retry-After": "30"})

        async def models(request):  # noqa: ANN001, ANN202
            return JSONResponse({"object": "list", "data": [{"id": "default", "object": "model"}]})

        app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                                Route("/v1/models", models)])  # fmt: skip
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, "the stand-in server")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def test_a_429_is_retried_on_another_endpoint(server, tmp_path):
    busy = Busy()
    rows = [{"id": f"b{i}", "prompt": f"Say {i}.", "max_tokens": 4} for i in range(6)]
    jobs = write_jobs(tmp_path / "b.jsonl", rows)
    try:
        res = oruel("run", str(jobs), "--endpoint", busy.url, "--endpoint", server.base_url,
                    "--parallel", "2")  # fmt: skip
    finally:
        busy.stop()
    assert res.returncode == 0, res.stderr
    recs = records(tmp_path / "b.results.jsonl")
    assert sorted(r["id"] for r in recs) == [f"b{i}" for i in range(6)]
    assert all(r["error"] is None and r["endpoint"] == server.base_url for r in recs)
    assert 1 <= busy.hits <= 2  # then it cooled down for its Retry-After
    assert sum(r["attempts"] == 2 for r in recs) == busy.hits


def test_ctrl_c_waits_for_the_requests_in_flight_then_130_and_resume_completes(server, tmp_path):
    rows = [{"id": f"c{i}", "prompt": f"Count to {i + 5}.", "max_tokens": 40} for i in range(12)]
    jobs = write_jobs(tmp_path / "c.jsonl", rows)
    out = tmp_path / "c.results.jsonl"
    cmd = [sys.executable, "-m", "oruel_cli", "run", str(jobs), "--endpoint", server.base_url,
           "--parallel", "2"]  # fmt: skip
    proc, stdout, stderr = start(cmd)
    wait_until(lambda: count_records(out) >= 1, "the first record")
    proc.send_signal(signal.SIGINT)
    rc, _, err = finish(proc, stdout, stderr, timeout=120)
    assert rc == 130, err
    assert "Traceback" not in err and "--resume" in err and "waiting for the" in err
    done = records(out)  # every line whole: the in-flight ones finished and were recorded
    assert 1 <= len(done) < len(rows) and all(r["error"] is None for r in done)
    res = oruel("run", str(jobs), "--endpoint", server.base_url, "--resume")
    assert res.returncode == 0, res.stderr
    assert sorted(r["id"] for r in records(out)) == sorted(r["id"] for r in rows)


def test_chat_drops_the_oldest_exchange_when_the_server_says_it_does_not_fit(server):
    long = "word " * 110  # about 110 tokens: two such messages are more than the server's 256
    script = f"{long}\n{long}\n"
    res = oruel("chat", "--endpoint", server.base_url, "--temperature", "0", "--max-tokens", "30",
                stdin=script)  # fmt: skip
    assert res.returncode == 0, res.stderr
    err = " ".join(res.stderr.split())
    assert err.count("tok/s") == 2, res.stderr
    assert "dropped the 1 oldest exchange: the server said the conversation does not fit" in err


class PlainOpenAI:
    """A server that speaks OpenAI's API and no more: it answers none of the
    other servers' info routes and refuses a field OpenAI does not define, as
    api.openai.com does ("Unrecognized request argument")."""

    OPENAI_FIELDS = {"model", "messages", "temperature", "top_p", "frequency_penalty",
                     "presence_penalty", "seed", "max_tokens", "stop", "stream",
                     "stream_options", "response_format", "tools", "tool_choice"}  # fmt: skip

    def __init__(self) -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, StreamingResponse
        from starlette.routing import Route

        self.bodies: list[dict] = []

        async def chat(request):  # noqa: ANN001, ANN202
            body = json.loads(await request.body())
            self.bodies.append(body)
            if extra := sorted(set(body) - self.OPENAI_FIELDS):
                err = {"message": f"Unrecognized request argument supplied: {extra[0]}",
                       "type": "invalid_request_error", "param": None, "code": None}  # fmt: skip
                return JSONResponse({"error": err}, status_code=400)
            head = {"id": "chatcmpl-p", "created": 1, "model": "gpt-x"}
            if not body.get("stream"):
                return JSONResponse({**head, "object": "chat.completion", "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "Paris."},
                     "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}})  # fmt: skip

            async def events():  # noqa: ANN202
                for delta, reason in (({"content": "Paris."}, None), ({}, "stop")):
                    chunk = {**head, "object": "chat.completion.chunk",
                             "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}  # fmt: skip
                    yield f"data: {json.dumps(chunk)}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        async def models(request):  # noqa: ANN001, ANN202
            data = [{"id": "gpt-x", "object": "model", "owned_by": "system"}]
            return JSONResponse({"object": "list", "data": data})

        app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                                Route("/v1/models", models)])  # fmt: skip
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, "the stand-in server")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def plain():
    srv = PlainOpenAI()
    yield srv
    srv.stop()


def test_a_plain_openai_api_gets_only_its_fields_and_a_parameter_it_lacks_is_exit_2(plain):
    res = oruel("ask", "--endpoint", plain.url, PROMPT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "Paris." and len(plain.bodies) == 1
    res = oruel("ask", "--endpoint", plain.url, "--top-k", "40", PROMPT)
    assert res.returncode == 2, res.stderr
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("oruel: error: ") and plain.url in line and "top_k 40" in line
    assert len(plain.bodies) == 1  # nothing sent without it
    res = oruel("chat", "--endpoint", plain.url, stdin="/set min_p 0.1\nHi.\n")
    assert res.returncode == 2 and "min_p 0.1" in res.stderr and len(plain.bodies) == 1


def test_a_job_line_with_a_parameter_openai_lacks_gets_its_error_record(plain, tmp_path):
    rows = [{"id": "k", "prompt": "x", "top_k": 40}, {"id": "ok", "prompt": "x", "top_k": 0}]
    jobs = write_jobs(tmp_path / "p.jsonl", rows)
    res = oruel("run", str(jobs), "--endpoint", plain.url)
    assert res.returncode == 1, res.stderr
    by_id = {r["id"]: r for r in records(tmp_path / "p.results.jsonl")}
    assert by_id["ok"]["error"] is None and by_id["ok"]["output"] == "Paris."
    err = by_id["k"]["error"]
    assert err["code"] == "unsupported_parameter" and by_id["k"]["attempts"] == 1
    assert plain.url in err["message"] and "top_k 40" in err["message"]
    assert len(plain.bodies) == 1


def test_oruel_serve_is_known_by_its_models_and_takes_every_parameter(server):
    from oruel_cli.backends.endpoints import Endpoint
    from oruel_cli.backends.remote import RemoteBackend

    assert RemoteBackend([Endpoint(server.base_url)]).api_for(Endpoint(server.base_url)) == "oruel"
    res = oruel("ask", "--endpoint", server.base_url, "--top-k", "5", "--min-p", "0.1",
                "--repetition-penalty", "1.2", "--max-tokens", "4", PROMPT)  # fmt: skip
    assert res.returncode == 0 and res.stdout.strip(), res.stderr
