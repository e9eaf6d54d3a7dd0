"""The driver: the one owner of an Engine's step loop.

Every command runs its requests through a driver; nothing else calls
`Engine.step()`. Any thread may submit, cancel or post a call: commands go to
an inbox that the driver drains before each step, and each request's events go
to that request's own handle (or to a sink the caller gives, such as an
asyncio queue fed with `loop.call_soon_threadsafe`).

Two ways to run it:

- stepped by its caller (ask, chat, run): iterating a handle steps the driver
  whenever that handle has no event waiting; a batch job calls `advance()`;
- on a thread of its own (`start()`, for a server): handles just wait for
  their events. llama.cpp's calls through ctypes release the GIL, so other
  threads (an HTTP loop) run while a step decodes.

A signal handler may call `cancel` (it only appends to a deque); shutdown is
`close()`, a command, never an exception thrown into the loop.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from .engine import Engine, Event, Finish, Request

Sink = Callable[[Event], None]


class Handle:
    """One request's events: its Deltas, then exactly one Finish."""

    def __init__(self, driver: Driver, request: Request, sink: Sink | None) -> None:
        self.request = request
        self.finish: Finish | None = None  # set when delivered
        self._consumed = False  # the Finish has been taken out by iteration
        self._driver = driver
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._sink = sink

    @property
    def id(self) -> str:
        return self.request.id

    @property
    def done(self) -> bool:
        return self.finish is not None

    def cancel(self) -> None:
        """Stop at the next step; the Finish (reason cancelled) still comes."""
        self._driver.cancel(self.request.id)

    def __iter__(self) -> Iterator[Event]:
        """The events not taken yet; iterating again after the Finish yields nothing."""
        if self._sink is not None:
            raise RuntimeError("a handle with a sink delivers its events there")
        while not self._consumed:
            ev = self._driver._next_event(self)
            if isinstance(ev, Finish):
                self._consumed = True
            yield ev

    def wait(self) -> Finish:
        """Consume the events left; the Finish."""
        for _ in self:
            pass
        assert self.finish is not None
        return self.finish

    def _deliver(self, ev: Event) -> None:
        if isinstance(ev, Finish):
            self.finish = ev
        if self._sink is not None:
            self._sink(ev)
        else:
            self._queue.put(ev)


class Driver:
    """Owns one Engine; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._inbox: deque[tuple[str, Any]] = deque()
        self._handles: dict[str, Handle] = {}
        self._calls: deque[tuple[Callable[[Engine], Any], Future]] = deque()
        self._step_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- what any thread may call -------------------------------------------

    def submit(self, req: Request, sink: Sink | None = None) -> Handle:
        """Queue a request; its events go to the returned handle (or to `sink`,
        called on the stepping thread). A prompt that cannot fit fails here."""
        self.engine.check(req)
        handle = Handle(self, req, sink)
        self._inbox.append(("submit", handle))
        self._notify()
        return handle

    def cancel(self, request_id: str) -> None:
        self._inbox.append(("cancel", request_id))
        self._notify()

    def call(self, fn: Callable[[Engine], Any]) -> Any:
        """Run `fn(engine)` on the idle engine and return its result (the
        --demo's logits, bench's prompt pass). New requests wait meanwhile."""
        future: Future = Future()
        self._inbox.append(("call", (fn, future)))
        self._notify()
        if self._thread is None:
            while not future.done():
                self.advance()
        return future.result()

    @property
    def pending(self) -> int:
        """Requests submitted and not yet finished (queued, admitted or in the inbox)."""
        return len(self._handles) + sum(1 for kind, _ in list(self._inbox) if kind == "submit")

    @property
    def running(self) -> int:
        return self.engine.live

    @property
    def n_slots(self) -> int:
        return self.engine.n_slots

    # -- stepping -------------------------------------------------------------

    def advance(self) -> bool:
        """Drain the inbox, decode one batch, deliver its events. True while
        there is work left (requests, calls or commands)."""
        with self._step_lock:
            self._drain()
            if self._calls and not self.engine.live:
                self._run_calls()
            if self.engine.live or (self.engine.queued and not self._calls):
                # a pending call waits for the engine to empty: admit nothing new
                for ev in self.engine.step(admit=not self._calls):
                    self._route(ev)
            return bool(self._handles or self._calls or self._inbox)

    def start(self) -> Driver:
        """Step on a thread of its own until `close()`."""
        self._thread = threading.Thread(target=self._loop, name="oruel-driver", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread (if any), cancel what is left, close the engine."""
        if self._thread is not None:
            self._stopping = True
            self._wake.set()
            self._thread.join()
            self._thread = None
        for handle in list(self._handles.values()):
            self.engine.cancel(handle.id)
        while self._handles:
            self.advance()
        self.engine.close()

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inside -----------------------------------------------------------------

    def _notify(self) -> None:
        if self._thread is not None:  # a caller-stepped driver has nobody to wake
            self._wake.set()

    def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()  # before stepping, so a submit during the step is not lost
            if not self.advance():
                self._wake.wait()

    def _drain(self) -> None:
        while self._inbox:
            kind, arg = self._inbox.popleft()
            if kind == "submit":
                self._handles[arg.id] = arg
                self.engine.submit(arg.request)
            elif kind == "cancel":
                if arg in self._handles:
                    self.engine.cancel(arg)
            else:
                self._calls.append(arg)

    def _run_calls(self) -> None:
        while self._calls:
            fn, future = self._calls.popleft()
            try:
                future.set_result(fn(self.engine))
            except BaseException as e:  # handed to the caller, who raises it
                future.set_exception(e)

    def _route(self, ev: Event) -> None:
        handle = self._handles.get(ev.request.id)
        if handle is None:
            return
        if isinstance(ev, Finish):
            del self._handles[ev.request.id]
        handle._deliver(ev)

    def _next_event(self, handle: Handle) -> Event:
        """The handle's next event, stepping the driver when nobody else does."""
        while True:
            try:
                return handle._queue.get_nowait()
            except queue.Empty:
                pass
            if self._thread is not None:
                return handle._queue.get()
            if self._step_lock.locked():  # another thread is stepping: wait for it
                try:
                    return handle._queue.get(timeout=0.005)
                except queue.Empty:
                    continue
            self.advance()
