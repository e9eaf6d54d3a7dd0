"""The remote backend's streaming side against stand-in servers (a few lines of
Starlette in this process, no model): deltas as they come, the usage chunk,
failover before any text, no failover on a refusal, and a cancel that ends
the reply between two chunks and closes the stream."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest
from watch import wait_until

from oruel_cli.backends.endpoints import Endpoint
from oruel_cli.backends.remote import RemoteBackend
from oruel_cli.backends.remote_errors import RemoteFailure
from oruel_cli.params.model import GenerationParams

WORDS = [f"w{i} " for i in range(40)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandIn:
    """`status` 200 streams WORDS (a chunk every `delay` s), else answers that status."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, StreamingResponse
        from starlette.routing import Route

        self.bodies: list[dict] = []
        self.sent = 0
        self.gone = threading.Event()

        async def chat(request):  # noqa: ANN001, ANN202
            self.bodies.append(json.loads(await request.body()))
            if status != 200:
                err = {"message": f"status {status}", "type": "x", "param": None, "code": None}
                return JSONResponse({"error": err}, status_code=status)

            async def events():  # noqa: ANN202
                try:
                    for w in WORDS:
                        chunk = {"id": "chatcmpl-s", "object": "chat.completion.chunk",
                                 "created": 1, "model": "stand-in",
                                 "choices": [{"index": 0, "delta": {"content": w},
                                              "finish_reason": None}]}  # fmt: skip
                        yield f"data: {json.dumps(chunk)}\n\n"
                        self.sent += 1
                        await asyncio.sleep(delay)
                    end = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1,
                           "model": "stand-in", "choices": [{"index": 0, "delta": {},
                           "finish_reason": "stop"}]}  # fmt: skip
                    yield f"data: {json.dumps(end)}\n\n"
                    usage = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1,
                             "model": "stand-in", "choices": [],
                             "usage": {"prompt_tokens": 7, "completion_tokens": len(WORDS),
                                       "total_tokens": 7 + len(WORDS)}}  # fmt: skip
                    yield f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n"
                except asyncio.CancelledError:
                    self.gone.set()
                    raise

            return StreamingResponse(events(), media_type="text/event-stream")

        app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, "the stand-in server", timeout=30)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def stand_ins():
    made: list[StandIn] = []

    def make(status: int = 200, delay: float = 0.0) -> StandIn:
        made.append(StandIn(status, delay))
        return made[-1]

    yield make
    for s in made:
        s.stop()


MESSAGES = [{"role": "user", "content": "hi"}]


def backend(*urls: str) -> RemoteBackend:
    return RemoteBackend([Endpoint(u) for u in urls], model_flag="m", timeout=10)


def test_deltas_then_the_whole_completion(stand_ins):
    s = stand_ins()
    handle = backend(s.url).start(MESSAGES, GenerationParams(temperature=0), "be brief")
    assert "".join(handle) == "".join(WORDS)
    comp = handle.result()
    assert comp.content == "".join(WORDS) and comp.finish_reason == "stop"
    assert (comp.prompt_tokens, comp.completion_tokens, comp.model) == (7, 40, "stand-in")
    (body,) = s.bodies
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == "m" and body["messages"][0] == {"role": "system", "content": "be brief"}
    assert (body["temperature"], body["top_k"], body["min_p"]) == (0, 0, 0)
    assert body["repetition_penalty"] == body["repeat_penalty"] == 1.0


def test_failover_before_any_text_but_not_on_a_refusal(stand_ins):
    down, good = stand_ins(503), stand_ins()
    dead = f"http://127.0.0.1:{free_port()}/v1"
    b = backend(dead, down.url, good.url)
    handle = b.start(MESSAGES, GenerationParams())
    assert "".join(handle) == "".join(WORDS) and b.last_url == good.url
    refuses = stand_ins(400)
    handle = backend(refuses.url, good.url).start(MESSAGES, GenerationParams())
    with pytest.raises(RemoteFailure) as info:
        list(handle)
    assert str(info.value) == f"the endpoint failed: {refuses.url}: HTTP 400: status 400"
    assert len(good.bodies) == 1  # the refusal was the answer: not sent elsewhere
    with pytest.raises(
        RemoteFailure, match="every endpoint failed: .*connection refused.*HTTP 503"
    ):
        list(backend(dead, down.url).start(MESSAGES, GenerationParams()))


def test_cancel_ends_between_two_chunks_and_closes_the_stream(stand_ins):
    s = stand_ins(delay=0.05)
    handle = backend(s.url).start(MESSAGES, GenerationParams())
    got = []
    for text in handle:
        got.append(text)
        if len(got) == 3:
            handle.cancel()
    t0 = time.perf_counter()
    comp = handle.result()
    assert time.perf_counter() - t0 < 1.0
    assert comp.finish_reason == "cancelled" and comp.content.startswith("".join(got))
    assert s.gone.wait(10)  # the server saw the client go
    assert s.sent < len(WORDS)
