"""POST /v1/chat/completions: parse, queue, run on the model's driver, answer
whole or as events.

The driver steps on a thread of its own; its events reach this event loop
through `loop.call_soon_threadsafe`. A client that goes away (streamed or not,
running or still queued) is noticed at once by a listener on the connection,
and its request is cancelled: the driver drops it at its next step, so its
slot goes to the next request. Cancelling one request never touches another.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..api.ids import completion_id
from ..engine.completion import complete
from ..engine.driver import DriverFailed
from ..engine.engine import Delta, Finish
from ..engine.reply import Completion
from ..errors import ContextTooLong, OruelError, UsageError
from .errors import ApiError, json_response
from .request import MAX_BODY, ChatCall, parse_request
from .state import RequestLog, ServeState
from .streaming import ChunkWriter, event

DRAIN_LIMIT = 8 * MAX_BODY  # bytes of a too-large body read (and dropped) so the 413 is seen
GONE_WAIT = 5.0  # seconds a gone client's request may take to end, for its log line


async def chat_completions(request: Request) -> Response:
    state: ServeState = request.app.state.oruel
    log: RequestLog = request.scope["oruel.log"]
    check_open(state)
    raw = await read_body(request)
    call = parse_request(raw, state.registry, state.resolver)
    log.model = call.model_name
    _check_alive(call)
    _check_room(state, call)
    req = await _prepare(call, completion_id())
    log.id = req.id
    check_open(state)
    _check_room(state, call)  # checked again: others were queued while this one was tokenized
    run = Run(state, call, log, asyncio.get_running_loop())
    run.submit(req)
    if call.stream:
        return EventStream(run)
    return await run.whole(request.receive)


def check_open(state: ServeState) -> None:
    if state.draining:
        state.metrics.rejected.labels(reason="shutdown").inc()
        raise ApiError(503, "the server is shutting down", code="shutting_down")
    if not state.ready:
        raise ApiError(
            503, "the server is loading its models; retry shortly", code="loading",
            headers={"Retry-After": "1"},
        )  # fmt: skip


def _check_alive(call: ChatCall) -> None:
    if (why := call.model.failed) is not None:
        raise engine_failed(why)


def engine_failed(why: str) -> ApiError:
    """503: the model's engine stopped (see /health); only a restart brings it back."""
    return ApiError(
        503, f"the server cannot answer: {why}; it needs a restart", code="engine_failed"
    )


def _check_room(state: ServeState, call: ChatCall) -> None:
    try:
        call.model.check_room()
    except ApiError:
        state.metrics.rejected.labels(reason="queue_full").inc()
        raise


async def read_body(request: Request) -> bytes:
    """The body, at most MAX_BODY bytes (413 past it: the rest is read and
    dropped, up to a limit, so that the client sees the answer)."""
    length = request.headers.get("content-length", "")
    too_big = length.isdigit() and int(length) > MAX_BODY
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            too_big = True
        if too_big:
            if size > DRAIN_LIMIT:
                break
            continue
        chunks.append(chunk)
    if too_big:
        raise ApiError(
            413, f"the body is over {MAX_BODY // (1024 * 1024)} MiB", code="request_too_large"
        )
    return b"".join(chunks)


async def _prepare(call: ChatCall, request_id: str) -> Any:
    """Render the chat template and tokenize, off the event loop (a long prompt
    takes a while); a prompt that cannot fit is 400, naming both sizes."""
    backend = call.model.backend
    try:
        return await asyncio.to_thread(
            backend.prepare, call.messages, call.params, call.system, request_id=request_id,
            template_kwargs=call.template_kwargs,
        )  # fmt: skip
    except ContextTooLong as e:
        raise ApiError(400, str(e), param="messages", code="context_length_exceeded") from None
    except UsageError as e:  # a logit_bias id outside the vocabulary names its field
        param = getattr(e, "param", None)
        code = "invalid_parameter" if param else "invalid_request"
        raise ApiError(400, str(e), param=param, code=code) from None
    except OruelError as e:
        raise ApiError(500, str(e), code="server_error") from None


class Run:
    """One submitted request and the answer it becomes."""

    def __init__(
        self, state: ServeState, call: ChatCall, log: RequestLog, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.state = state
        self.call = call
        self.log = log
        self.loop = loop
        self.queue: asyncio.Queue[Delta | Finish] = asyncio.Queue()
        self.handle: Any = None
        self.finish: Finish | None = None
        self._finished_event = asyncio.Event()
        self._released = False
        state.active += 1

    # -- the driver's side ---------------------------------------------------

    def submit(self, req: Any) -> None:
        try:
            self.handle = self.call.model.backend.submit(req, sink=self._sink)
        except DriverFailed as e:  # the engine stopped since the check
            self.release()
            raise engine_failed(str(e)) from None
        except OruelError as e:  # e.g. a prompt empty once tokenized
            self.release()
            raise ApiError(400, str(e), param="messages", code="invalid_request") from None
        self.state.handles.add(self.handle)

    def _sink(self, ev: Delta | Finish) -> None:
        """Called on the driver's thread. A whole reply needs only the Finish (it
        holds the text): waking the event loop for each token would take the
        GIL from the driver between its steps, for nothing."""
        if not self.call.stream and isinstance(ev, Delta):
            return
        try:
            self.loop.call_soon_threadsafe(self._event, ev)
        except RuntimeError:  # the loop is closed: the server is gone
            pass

    def _event(self, ev: Delta | Finish) -> None:
        if isinstance(ev, Finish):
            self._finished(ev)
        self.queue.put_nowait(ev)

    def _finished(self, ev: Finish) -> None:
        """Bookkeeping that must happen whether or not anyone still listens."""
        self.finish = ev
        self._finished_event.set()
        self.state.handles.discard(self.handle)
        served, m = self.call.model, self.state.metrics
        m.prompt_tokens.labels(model=served.id).inc(ev.prompt_tokens)
        m.completion_tokens.labels(model=served.id).inc(ev.completion_tokens)
        log = self.log
        log.prompt_tokens, log.completion_tokens = ev.prompt_tokens, ev.completion_tokens
        log.finish_reason = ev.finish_reason
        if ev.first_token_seconds is not None:
            log.ttft = ev.admitted_at + ev.first_token_seconds - log.started
            m.ttft.labels(model=served.id).observe(max(0.0, log.ttft))
        if ev.finish_reason in ("stop", "length"):
            served.finished(ev.seconds)

    # -- the client's side ---------------------------------------------------

    def cancel(self) -> None:
        if self.handle is not None and self.finish is None:
            self.handle.cancel()

    async def gone(self) -> None:
        """The client went away: free the slot (the driver drops the request at
        its next step); wait a moment for that, so the log line has its counts."""
        self.cancel()
        self.log.status = 499
        self.log.notes.append("client went away")
        try:
            await asyncio.wait_for(self._finished_event.wait(), GONE_WAIT)
        except asyncio.TimeoutError:
            pass

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.state.active -= 1

    def completion(self, ev: Finish) -> Completion:
        comp = complete(ev, self.call.model_name)
        self.log.finish_reason = comp.finish_reason
        self.log.notes.extend(comp.warnings)
        if self.state.replies is not None:  # --log: written off the event loop
            call = self.call
            self.loop.run_in_executor(
                None, self.state.replies.add, call.messages, call.resolved, call.model.path, comp
            )
        return comp

    def failure(self, ev: Finish) -> ApiError | None:
        """Why a finished request has no reply: a failed generation, a stopped
        engine, or a shutdown."""
        if ev.error is not None and self.call.model.failed is not None:
            return engine_failed(ev.error)
        if ev.error is not None:
            return ApiError(500, f"the generation failed: {ev.error}", code="generation_failed")
        if ev.finish_reason == "cancelled":
            return ApiError(
                503, "the server shut down before the reply was finished", code="shutting_down"
            )
        return None

    async def whole(self, receive: Receive) -> Response:
        gone = asyncio.ensure_future(wait_disconnect(receive))
        try:
            while True:
                get = asyncio.ensure_future(self.queue.get())
                await asyncio.wait({get, gone}, return_when=asyncio.FIRST_COMPLETED)
                if not get.done():
                    get.cancel()
                    await self.gone()
                    return _NoAnswer()
                ev = get.result()
                if isinstance(ev, Finish):
                    break
            failure = self.failure(ev)
            if failure is not None:
                raise failure
            return json_response(self.completion(ev).to_openai())
        finally:
            gone.cancel()
            self.cancel()
            self.release()

    async def chunks(self) -> AsyncIterator[bytes]:
        call = self.call
        writer = ChunkWriter(self.log.id, call.model_name, int(time.time()), call.include_usage)
        whole = call.params.tools_active
        try:
            yield writer.role()
            while True:
                ev = await self.queue.get()
                if isinstance(ev, Delta):
                    if not whole and (ev.text or ev.logprobs or ev.reasoning):
                        yield writer.text(ev.text, ev.logprobs, ev.reasoning)
                    continue
                failure = self.failure(ev)
                if failure is not None:
                    self.log.notes.append(failure.message)
                    yield event(failure.body())
                    return
                comp = self.completion(ev)
                for data in (writer.whole(comp) if whole else []) + writer.end(comp):
                    yield data
                return
        finally:
            self.cancel()
            self.release()


async def wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class EventStream:
    """A text/event-stream answer that notices a client going away at any
    moment (also while its request is queued and nothing is being sent)."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.chunks = run.chunks()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        pump = asyncio.ensure_future(self._pump(send))
        gone = asyncio.ensure_future(wait_disconnect(receive))
        await asyncio.wait({pump, gone}, return_when=asyncio.FIRST_COMPLETED)
        gone.cancel()
        if pump.done():
            exc = pump.exception()
            if exc is None:
                return
            if not isinstance(exc, OSError):  # a fault of ours: one log line, the stream cut
                self.run.log.notes.append(f"internal error: {type(exc).__name__}: {exc}")
                return
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        await self.run.gone()

    async def _pump(self, send: Send) -> None:
        try:
            async for data in self.chunks:
                await send({"type": "http.response.body", "body": data, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await self.chunks.aclose()  # type: ignore[attr-defined]


class _NoAnswer(Response):
    """For a client that is gone: nothing to send."""

    def __init__(self) -> None:
        super().__init__(status_code=499)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None
