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
`close()`, a command, never an exception thrown into the loop: it cancels
what is still in the inbox, and a later submit is refused.

A step that raises on the driver's own thread (a bug: a failed decode is an
event, not an exception) would leave every caller waiting on its handle: the
driver instead fails every request it holds or has queued (reason `error`,
with the exception), reports it once, and refuses every later submit or call
with `DriverFailed`, so that a server can say 503 and a supervisor restart it.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from ..errors import RuntimeFailure
from .engine import Engine, Event, Finish, Request

Sink = Callable[[Event], None]
Report = Callable[[str], None]
# Fault injection for tests only: with ORUEL_TEST_FAIL_STEP=N in the environment,
# a driver on a thread of its own raises at its Nth step, as a bug in a step
# would, so a test can watch a real `oruel serve` fail its requests and /health
# instead of hanging. Unset (always, outside tests), nothing changes.
FAULT_ENV = "ORUEL_TEST_FAIL_STEP"


class DriverFailed(RuntimeFailure):
    """The driver's thread stopped on an unexpected exception: nothing runs on it any more."""


class DriverClosed(RuntimeFailure):
    """`close()` was called: the driver takes no more requests."""


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
        self._lock = threading.Lock()  # the refusals and what is put in the inbox
        self._refusal: RuntimeFailure | None = None  # DriverFailed or DriverClosed, once set
        self._report: Report = _to_stderr
        self._fail_at = 0  # the step that raises (FAULT_ENV), 0 for none
        self._steps = 0

    # -- what any thread may call -------------------------------------------

    def submit(self, req: Request, sink: Sink | None = None) -> Handle:
        """Queue a request; its events go to the returned handle (or to `sink`,
        called on the stepping thread). A prompt that cannot fit fails here, and
        so does any submit once the driver has failed or been closed."""
        self.engine.check(req)
        handle = Handle(self, req, sink)
        self._post("submit", handle)
        return handle

    def cancel(self, request_id: str) -> None:
        self._inbox.append(("cancel", request_id))
        self._notify()

    def call(self, fn: Callable[[Engine], Any]) -> Any:
        """Run `fn(engine)` on the idle engine and return its result (the
        --demo's logits, bench's prompt pass). New requests wait meanwhile."""
        future: Future = Future()
        self._post("call", (fn, future))
        if self._thread is None:
            while not future.done():
                self.advance()
        return future.result()

    @property
    def pending(self) -> int:
        """Requests submitted and not yet finished (queued, admitted or in the inbox)."""
        return len(self._handles) + sum(1 for kind, _ in list(self._inbox) if kind == "submit")

    @property
    def failed(self) -> str | None:
        """Why the driver's thread stopped, if it did (then every submit is refused)."""
        return str(self._refusal) if isinstance(self._refusal, DriverFailed) else None

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
                self._steps += 1
                if self._steps == self._fail_at:
                    raise RuntimeError(f"fault injected at step {self._steps} ({FAULT_ENV})")
                # a pending call waits for the engine to empty: admit nothing new
                for ev in self.engine.step(admit=not self._calls):
                    self._route(ev)
            return bool(self._handles or self._calls or self._inbox)

    def start(self, report: Report | None = None) -> Driver:
        """Step on a thread of its own until `close()`; a step that raises is
        reported once through `report` (one line on stderr by default)."""
        if report is not None:
            self._report = report
        self._fail_at = int(os.environ.get(FAULT_ENV) or 0)
        self._thread = threading.Thread(target=self._loop, name="oruel-driver", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Refuse new work, stop the thread (if any), cancel what is left (in the
        inbox too: nothing is admitted after close), close the engine."""
        with self._lock:
            if self._refusal is None:
                self._refusal = DriverClosed("the model is closed: it takes no more requests")
        if self._thread is not None:
            self._stopping = True
            self._wake.set()
            self._thread.join()
            self._thread = None
        self._end_inbox("cancelled", None)
        if self.failed is None:
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

    def _post(self, kind: str, arg: Any) -> None:
        with self._lock:  # a refusal set meanwhile would miss what is posted after it
            if self._refusal is not None:
                raise type(self._refusal)(str(self._refusal))
            self._inbox.append((kind, arg))
        self._notify()

    def _loop(self) -> None:
        try:
            while not self._stopping:
                self._wake.clear()  # before stepping, so a submit during the step is not lost
                if not self.advance():
                    self._wake.wait()
        except BaseException as e:  # noqa: BLE001 - every waiting caller is told, then it ends
            self._fail(f"the engine stopped: {type(e).__name__}: {e}")

    def _fail(self, why: str) -> None:
        """Fail every request held or queued with `why`; refuse all later work."""
        with self._lock:
            self._refusal = DriverFailed(why)
        handles = list(self._handles.values())
        self._handles.clear()
        for handle in handles:
            handle._deliver(_failed_finish(handle.request, "error", why))
        self._end_inbox("error", why)
        self._report(f"error: {why}")  # last: nobody waits on it

    def _end_inbox(self, reason: str, why: str | None) -> None:
        """Finish what was posted and never drained (no more is posted: refused)."""
        calls = list(self._calls)
        self._calls.clear()
        while self._inbox:
            kind, arg = self._inbox.popleft()
            if kind == "submit":
                arg._deliver(_failed_finish(arg.request, reason, why))
            elif kind == "call":
                calls.append(arg)
        for _, future in calls:
            refusal = self._refusal or DriverClosed("the model is closed")
            future.set_exception(type(refusal)(str(refusal)))

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


def _failed_finish(req: Request, reason: str, why: str | None) -> Finish:
    """The Finish of a request the engine never finished (cancelled or failed)."""
    return Finish(
        request=req, text="", tokens=[], finish_reason=reason,
        prompt_tokens=len(req.tokens), completion_tokens=0, cached_tokens=0,
        seconds=0.0, first_token_seconds=None, error=why,
    )  # fmt: skip


def _to_stderr(line: str) -> None:
    sys.stderr.write(f"oruel: {line}\n")
    sys.stderr.flush()
