"""Running the server: uvicorn, the models loaded behind it, and the shutdown.

The socket opens first and the models load on a thread, so `/health` says
503 ("loading") until they are ready. Ctrl-C or SIGTERM starts a drain: new
requests get 503 (the socket stays open, so a balancer sees it), in-flight
ones may finish within the shutdown timeout, the rest are cancelled, then
uvicorn closes and the engines are freed; the exit code is 0. A second Ctrl-C
cancels what is left at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette

from ..errors import OruelError
from ..signals import catching
from .app import build_app
from .state import ServeState

CANCEL_GRACE = 5.0  # seconds for cancelled requests to send their last bytes
LISTEN_BACKLOG = 2048  # uvicorn's default


@dataclass
class Options:
    host: str
    port: int
    cors_origins: list[str]
    shutdown_timeout: float
    verbose: bool = False


class OruelServer(uvicorn.Server):
    """uvicorn with oruel's signals: a drain instead of an immediate close."""

    def __init__(self, config: uvicorn.Config, state: ServeState, opts: Options) -> None:
        super().__init__(config)
        self.state = state
        self.opts = opts
        self.exit_code = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain: asyncio.Task[None] | None = None

    async def startup(self, sockets: list | None = None) -> None:  # type: ignore[override]
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            self.state.say(
                f"listening on http://{shown}:{port} (models: {self.state.registry.ids()}; "
                f"API key {'required' if self.state.api_key else 'off'})"
            )

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        with catching(self._on_signal):
            yield

    def _on_signal(self, signum: int, frame: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._begin_drain, signum)
        else:  # before the loop runs: nothing is in flight
            self.should_exit = True

    def _begin_drain(self, signum: int) -> None:
        if self._drain is None:
            self._drain = asyncio.ensure_future(self.drain())
        elif signum == signal.SIGINT:
            self.state.say("second interrupt: cancelling every request now")
            self._cancel_all()

    async def drain(self) -> None:
        state = self.state
        state.draining = True
        timeout = self.opts.shutdown_timeout
        if state.active:
            state.say(f"shutting down: {state.active} request(s) in flight, up to {timeout:g} s")
        else:
            state.say("shutting down")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while state.active and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if state.active:
            state.say(f"shutdown timeout: cancelling {len(state.handles)} request(s)")
            self._cancel_all()
            deadline = loop.time() + CANCEL_GRACE
            while state.active and loop.time() < deadline:
                await asyncio.sleep(0.05)
        self.should_exit = True

    def stop(self, code: int) -> None:
        """End without a drain (a model failed to load)."""
        self.exit_code = code
        self.should_exit = True

    def _cancel_all(self) -> None:
        for handle in list(self.state.handles):
            handle.cancel()


def load_models(state: ServeState, verbose: bool) -> None:
    """Each model with its engine of --parallel slots, its driver on a thread of its own."""
    from ..backends.local import LocalBackend
    from ..engine.loader import SLOT_CTX_CAP

    for m in state.registry.models:
        backend = LocalBackend.load(m.target, verbose, n_slots=m.n_slots, ctx_cap=SLOT_CTX_CAP)
        m.backend = backend
        backend.driver.start(report=state.say)  # a step that raises: one line, then 503s
        _warm_up(backend)


def _warm_up(backend: Any) -> None:
    """Decode one short text before saying ready, as llama-server does: the first
    decode of a fresh context pages the weights in and sizes llama.cpp's buffers
    (1-2 s here), which would otherwise fall on the first client. The text is
    tokenized as it stands, not through the chat template: a template that renders
    only with tools (Hermes' tool_use) is the requests' business, not the start's."""

    def first_decode(engine: Any) -> None:
        engine.next_token_logits(engine.model.tokenize("Hello", add_special=True))

    backend.driver.call(first_decode)


def close_models(state: ServeState) -> None:
    """Stop the drivers (cancelling what is left) and free the engines and models."""
    for m in state.registry.models:
        if m.backend is not None:
            m.backend.close()
            m.backend = None


def serve(state: ServeState, opts: Options) -> int:
    """Run until a signal (exit 0) or a failed start (1, or the load error's code)."""
    server: OruelServer | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()

        def load() -> None:
            try:
                load_models(state, opts.verbose)
            except Exception as e:  # noqa: BLE001 - one line and an exit code, never a traceback
                code = e.exit_code if isinstance(e, OruelError) else 1
                what = "" if isinstance(e, OruelError) else f"internal error: {type(e).__name__}: "
                state.say(f"error: {what}{e}")
                loop.call_soon_threadsafe(server.stop, code)  # type: ignore[union-attr]
                return
            state.ready = True
            state.say("ready")

        loader = threading.Thread(target=load, name="oruel-load", daemon=True)
        loader.start()
        try:
            yield
        finally:
            await asyncio.to_thread(loader.join)
            await asyncio.to_thread(close_models, state)

    app = build_app(state, opts.cors_origins, lifespan=lifespan)
    config = uvicorn.Config(
        app,
        host=opts.host,
        port=opts.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(CANCEL_GRACE),
    )
    try:
        sock = listen(opts.host, opts.port)
    except OSError as e:
        state.say(f"error: {_listen_problem(opts.host, opts.port, e)}")
        return 1
    server = OruelServer(config, state, opts)
    with sock:
        try:
            server.run(sockets=[sock])
        except SystemExit:  # uvicorn could not start (it logged why)
            state.say(f"error: cannot serve on {_address(opts.host, opts.port)}")
            return 1
    return server.exit_code


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, opened before anything loads: a port in use is one
    line and exit 1, never uvicorn's log, nor a "ready" for a server that is not."""
    family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind(addr)
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _listen_problem(host: str, port: int, e: OSError) -> str:
    where = _address(host, port)
    if e.errno == errno.EADDRINUSE:
        return f"{where} is in use"
    if isinstance(e, socket.gaierror):
        return f"cannot listen on {where}: unknown host"
    return f"cannot listen on {where}: {e.strerror or e}"
