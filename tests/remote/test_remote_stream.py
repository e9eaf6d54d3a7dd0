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
from support.watch import wait_until

from oruel_cli.backends.endpoints import Endpoint
from oruel_cli.backends.fields import ParameterRefused
from oruel_cli.backends.remote import RemoteBackend
from oruel_cli.backends.remote_errors import RemoteFailure
from oruel_cli.params.model import GenerationParams

WORDS = [f"w{i} " for i in range(40)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


INFO_ROUTES = {  # what each kind of server answers on its own routes
    "llama.cpp": ("/props", {"default_generation_settings": {}, "total_slots": 1}),
    "vllm": ("/version", {"version": "0.9.1"}),
    "oruel": ("/v1/models", {"object": "list", "data": [{"id": "m", "owned_by": "oruel"}]}),
}


class StandIn:
    """`status` 200 streams WORDS (a chunk every `delay` s), else answers that status.
    `api` names the server it plays on its info routes (None: a plain OpenAI API,
    which answers none of them)."""

    def __init__(self, status: int = 200, delay: float = 0.0, api: str | None = None) -> None:
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

        self.info_hits = 0
        routes = [Route("/v1/chat/completions", chat, methods=["POST"])]
        if api is not None:
            path, answer = INFO_ROUTES[api]

            async def info(request):  # noqa: ANN001, ANN202
                self.info_hits += 1
                return JSONResponse(answer)

            routes.append(Route(path, info))
        app = Starlette(routes=routes)
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

    def make(status: int = 200, delay: float = 0.0, api: str | None = None) -> StandIn:
        made.append(StandIn(status, delay, api))
        return made[-1]

    yield make
    for s in made:
        s.stop()


MESSAGES = [{"role": "user", "content": "hi"}]


def backend(*urls: str) -> RemoteBackend:
    return RemoteBackend([Endpoint(u) for u in urls], model_flag="m", timeout=10)


def test_deltas_then_the_whole_completion(stand_ins):
    s = stand_ins(api="llama.cpp")
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


@pytest.mark.parametrize("api", ["llama.cpp", "vllm", "oruel"])
def test_a_server_that_says_what_it_is_gets_every_parameter(stand_ins, api):
    s = stand_ins(api=api)
    b = backend(s.url)
    params = GenerationParams(top_k=40, min_p=0.05, repetition_penalty=1.1)
    assert "".join(b.start(MESSAGES, params)) == "".join(WORDS)
    assert b.api_for(b.endpoints[0]) == api
    (body,) = s.bodies
    assert (body["top_k"], body["min_p"], body["repetition_penalty"]) == (40, 0.05, 1.1)


def test_a_plain_openai_api_gets_only_openais_fields(stand_ins):
    s = stand_ins()  # answers none of the info routes
    b = backend(s.url)
    assert "".join(b.start(MESSAGES, GenerationParams(top_k=0, seed=3))) == "".join(WORDS)
    assert b.api_for(b.endpoints[0]) == "openai"
    (body,) = s.bodies
    assert body["seed"] == 3 and body["temperature"] == 0.7
    assert not {"top_k", "min_p", "repetition_penalty", "repeat_penalty"} & set(body)


@pytest.mark.parametrize(
    ("params", "named"),
    [({"top_k": 40}, "top_k 40"), ({"min_p": 0.05}, "min_p 0.05"),
     ({"repetition_penalty": 1.3, "top_k": 5}, "top_k 5, repetition_penalty 1.3")],
)  # fmt: skip
def test_a_parameter_openai_lacks_is_refused_naming_it_and_the_endpoint(stand_ins, params, named):
    s, other = stand_ins(), stand_ins(api="llama.cpp")
    handle = backend(s.url, other.url).start(MESSAGES, GenerationParams(**params))
    with pytest.raises(ParameterRefused) as info:
        list(handle)
    assert info.value.exit_code == 2
    assert s.url in str(info.value) and f"does not take {named};" in str(info.value)
    assert s.bodies == [] and other.bodies == []  # never sent without it, nor elsewhere


def test_the_config_entrys_api_wins_and_nothing_is_asked(stand_ins):
    s = stand_ins(api="llama.cpp")
    b = RemoteBackend([Endpoint(s.url, api="openai")], model_flag="m", timeout=10)
    with pytest.raises(ParameterRefused):
        list(b.start(MESSAGES, GenerationParams(top_k=40)))
    assert "".join(b.start(MESSAGES, GenerationParams())) == "".join(WORDS)
    assert "top_k" not in s.bodies[0] and s.info_hits == 0
