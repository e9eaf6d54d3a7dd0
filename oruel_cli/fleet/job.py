"""A batch job on remote endpoints: every promise of a local job, with retries.

One thread (the caller's) owns all the job's state: it reads lines ahead (a
window of WINDOW; turbo lines go first), hands each to the endpoint that
should take it, writes each record as its line finishes, and decides what a
failure means. Worker threads only do the HTTP (a request or a probe) and
post what came back on a queue, so nothing here needs a lock.

A failed attempt:

- a connection error, a timeout, 429 or 5xx: the line is tried again, on
  another endpoint where one takes lines, after a backoff with jitter, at
  most MAX_ATTEMPTS tries in all (then its error record says so);
- 401 or 403: that endpoint is unusable for the rest of the job; the line
  goes to another at once;
- any other refusal (400, 404, 422...): the line's error record, with the
  server's message; never retried.

The endpoint's side of it (cool-downs, Retry-After, out of rotation until a
probe answers) is `rotation`'s. With every endpoint out the job waits, probing,
up to `timeout` seconds, then stops: the lines not done have no record, so
`--resume` completes the job later.

Ctrl-C (or SIGTERM): nothing more is sent, the requests in flight are waited
for and recorded, and the job ends `interrupted`; a second one stops at once.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..backends.endpoints import Endpoint, model_flag_name
from ..backends.fields import ParameterRefused, request_fields
from ..backends.remote_errors import RemoteError, from_openai
from ..batch.reader import BatchLine, LineError
from ..batch.sink import JobSink
from ..batch.stats import JobStats
from ..engine.reply import Completion, json_warning
from ..errors import OruelError
from ..params.layering import ParamResolver, Resolved
from ..params.model import GenerationParams
from ..signals import STOP_SIGNALS, install, restore, soft_then_hard
from .backoff import backoff
from .rotation import EndpointState, Rotation

MAX_ATTEMPTS = 5
WINDOW = 256  # lines read ahead (and so the reach of turbo's priority)
IDLE_WAIT = 1.0  # seconds: the longest wait for an event before looking again


@dataclass
class Item:
    """A line on its way: its request and how its tries went."""

    line: BatchLine
    resolved: Resolved
    fields: dict[str, Any]
    tier_model: str | None = None  # the model its tier profile names (below --model)
    attempts: int = 0
    tried: set[str] = field(default_factory=set)  # endpoints it failed on


class FleetBackend(Protocol):
    """What the job needs of its backend: RemoteBackend's endpoints, one whole
    request to one of them, and the model list (its probe). Tests give a
    stand-in that answers as told."""

    endpoints: list[Endpoint]
    template_kwargs: dict[str, Any]

    def endpoint(self, url: str) -> Endpoint: ...

    def send(
        self,
        ep: Endpoint,
        fields: dict[str, Any],
        params: GenerationParams,
        line_model: str | None = None,
        tier_model: str | None = None,
    ) -> Completion: ...

    def list_models(self, ep: Endpoint) -> list[str]: ...


class FleetJob:
    def __init__(
        self,
        backend: FleetBackend,
        resolver: ParamResolver,
        sink: JobSink,
        parallel: int,
        timeout: float,
        notify: Callable[[str], None] = lambda text: None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.backend = backend
        self.resolver = resolver
        self.sink = sink
        self.timeout = timeout
        self.notify = notify
        self.clock = clock
        self.rng = rng or random.Random()
        self.rotation = Rotation(
            [
                EndpointState(ep.url, ep.parallel or parallel, rng=self.rng)
                for ep in backend.endpoints
            ]
        )
        self.stats = sink.stats
        self.stopping = False
        self._announce = False
        self.in_flight = 0
        self._window: list[tuple[int, int, Item]] = []
        self._later: list[tuple[float, int, Item]] = []  # retries waiting for their backoff
        self._order = itertools.count()
        self._events: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._tasks: queue.SimpleQueue[tuple[Callable[..., None], tuple[Any, ...]]] = (
            queue.SimpleQueue()
        )
        self._down_since: float | None = None
        workers = sum(s.capacity for s in self.rotation.states) + len(self.rotation.states)
        for _ in range(workers):  # daemon threads: a second Ctrl-C does not wait for them
            threading.Thread(target=self._work, daemon=True, name="oruel-fleet").start()

    # -- the caller's thread -----------------------------------------------------------

    def run(self, lines: Iterator[BatchLine]) -> JobStats:
        """Run every line; see the module's docstring for what stops it."""
        on_main = threading.current_thread() is threading.main_thread()
        # A second Ctrl-C or SIGTERM: at once, in-flight lines unrecorded.
        handler = soft_then_hard(self._on_signal, lambda: self.stopping, STOP_SIGNALS)
        previous = install(handler) if on_main else {}
        try:
            self._loop(iter(lines))
        except KeyboardInterrupt:  # the second Ctrl-C: at once, in-flight lines unrecorded
            self.stats.interrupted = True
        finally:
            restore(previous)
        return self.stats

    def stop(self) -> None:
        """Stop sending; the lines in flight still finish (what a Ctrl-C does)."""
        self.stopping = True
        self._events.put(("wake",))  # SimpleQueue.put is safe inside a signal handler

    def _on_signal(self, signum: int) -> None:
        self.stats.interrupted = True
        self._announce = True  # said by the loop: printing inside a handler can deadlock
        self.stop()

    def _loop(self, lines: Iterator[BatchLine]) -> None:
        exhausted = False
        while True:
            now = self.clock()
            while not self.stopping and not exhausted and self._pending() < WINDOW:
                line = next(lines, None)
                if line is None:
                    exhausted = True
                else:
                    self._read(line)
            if not self.stopping:
                self._release(now)
                self._dispatch(now)
                self._probe(now)
                self._check_down(now)
            if self._announce:
                self._announce = False
                if self.in_flight:
                    self.notify(
                        f"stopping: waiting for the {self.in_flight} request(s) in flight "
                        "(Ctrl-C again to stop at once)"
                    )
            if self.in_flight == 0 and (
                self.stopping or (exhausted and not self._window and not self._later)
            ):
                return
            self._wait(now)

    def _pending(self) -> int:
        return len(self._window) + len(self._later) + self.in_flight

    def _read(self, line: BatchLine) -> None:
        if self.sink.skip_done(line):
            return
        if line.error is not None:
            self._fail(line, line.error)
            return
        try:
            resolved = self.resolver.resolve(line.params, line.preset, line.system)
        except OruelError as e:
            self._fail(line, LineError("invalid_parameter", str(e)))
            return
        messages = line.messages or []
        if json_warning(messages, resolved.params, resolved.system):
            self.stats.json_unasked.append(line.line_no)
        kwargs = {**self.backend.template_kwargs, **line.template_kwargs}
        fields = request_fields(messages, resolved.params, resolved.system, kwargs)
        tier_model = model_flag_name(None, self.resolver.config, resolved.params.tier)
        self._queue(Item(line, resolved, fields, tier_model))

    def _queue(self, item: Item) -> None:
        priority = 0 if item.resolved.params.tier == "turbo" else 1
        heapq.heappush(self._window, (priority, next(self._order), item))

    def _release(self, now: float) -> None:
        """Retries whose backoff is over go back to the window."""
        while self._later and self._later[0][0] <= now:
            self._queue(heapq.heappop(self._later)[2])

    def _dispatch(self, now: float) -> None:
        while self._window:
            item = self._window[0][2]
            ep = self.rotation.pick(now, item.tried)
            if ep is None:
                return
            heapq.heappop(self._window)
            item.attempts += 1
            ep.in_flight += 1
            self.in_flight += 1
            self._tasks.put((self._send, (item, ep)))

    def _probe(self, now: float) -> None:
        for ep in self.rotation.due_probes(now):
            ep.probing = True
            self._tasks.put((self._check, (ep,)))

    def _check_down(self, now: float) -> None:
        """With every endpoint out, wait up to `timeout`, then stop (no record
        for the lines left: a resume runs them)."""
        if self.rotation.any_usable():
            self._down_since = None
            return
        if self.rotation.all_unusable():
            self._halt("every endpoint refused the key (HTTP 401 or 403)")
            return
        if not (self._window or self._later):
            return  # nothing waits for an endpoint (the lines in flight will tell)
        if self._down_since is None:
            self._down_since = now
            self.notify(
                f"every endpoint is down; waiting up to {self.timeout:g} s for one to answer"
            )
        elif now - self._down_since >= self.timeout:
            self._halt(f"every endpoint has been down for {self.timeout:g} s")

    def _halt(self, why: str) -> None:
        self.stats.stopped = why
        self.notify(f"{why}: stopping; run again with --resume to finish the job")
        self.stop()

    def _wait(self, now: float) -> None:
        times = [now + IDLE_WAIT]
        if self._later:
            times.append(self._later[0][0])
        if (t := self.rotation.next_change()) is not None:
            times.append(t)
        try:
            event = self._events.get(timeout=max(0.0, min(times) - now))
        except queue.Empty:
            return
        done: list[tuple[Item, EndpointState, Completion]] = []
        while True:
            self._handle(event, done)
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
        if done and not self.stopping:
            self._dispatch(self.clock())  # refill the freed slots before writing (fsync)
        for item, ep, comp in done:
            self._succeed(item, ep, comp)

    def _handle(
        self, event: tuple[Any, ...], done: list[tuple[Item, EndpointState, Completion]]
    ) -> None:
        kind = event[0]
        if kind == "done":
            _, item, ep, comp = event
            self._returned(ep)
            ep.succeeded()
            done.append((item, ep, comp))  # recorded once the next lines are on their way
        elif kind == "fail":
            _, item, ep, err = event
            self._returned(ep)
            self._failed(item, ep, err)
        elif kind == "refused":
            _, item, ep, err = event
            self._returned(ep)
            self._fail(
                item.line, LineError("unsupported_parameter", str(err)), ep.url, item.attempts
            )
        elif kind == "probe":
            _, ep, ok = event
            ep.probed(ok, self.clock())
            if ok:
                self.notify(f"endpoint {ep.url} answers again: back in rotation")

    def _returned(self, ep: EndpointState) -> None:
        ep.in_flight -= 1
        self.in_flight -= 1

    def _failed(self, item: Item, ep: EndpointState, err: RemoteError) -> None:
        now = self.clock()
        was = ep.state
        ep.failed(err, now)
        if ep.state != was and ep.state in ("out", "unusable"):
            what = "unusable (its key is refused)" if ep.state == "unusable" else "out of rotation"
            then = "" if ep.state == "unusable" else "; probing it"
            self.notify(f"endpoint {ep.url} is {what}: {err.describe()}{then}")
        if not (err.retryable or err.endpoint_unusable):
            self._fail(item.line, LineError(err.error_code(), _refusal(err)), ep.url, item.attempts)
            return
        if item.attempts >= MAX_ATTEMPTS:
            message = f"gave up after {item.attempts} attempts: {err.describe()}"
            self._fail(item.line, LineError(err.error_code(), message), ep.url, item.attempts)
            return
        item.tried.add(ep.url)
        if err.endpoint_unusable:
            self._queue(item)  # not the line's fault: elsewhere at once
        else:
            heapq.heappush(
                self._later, (now + backoff(item.attempts, self.rng), next(self._order), item)
            )

    def _succeed(self, item: Item, ep: EndpointState, comp: Completion) -> None:
        line = item.line
        if comp.schema_error:
            self._fail(
                line, LineError("schema_violation", comp.schema_error), ep.url, item.attempts
            )
            return
        self.sink.succeed(
            line, item.resolved, comp, ep.url, endpoint=ep.url, attempts=item.attempts
        )

    def _fail(
        self, line: BatchLine, error: LineError, endpoint: str | None = None, attempts: int = 0
    ) -> None:
        self.sink.fail(line, error, endpoint=endpoint, attempts=attempts)

    # -- worker threads ----------------------------------------------------------------

    def _work(self) -> None:
        while True:
            fn, args = self._tasks.get()
            fn(*args)

    def _send(self, item: Item, ep: EndpointState) -> None:
        endpoint = self.backend.endpoint(ep.url)
        try:
            comp = self.backend.send(
                endpoint, item.fields, item.resolved.params, item.line.model, item.tier_model
            )
        except ParameterRefused as e:  # the line's parameters: its error record, no retry
            self._events.put(("refused", item, ep, e))
        except RemoteError as e:
            self._events.put(("fail", item, ep, e))
        except Exception as e:  # whatever the transport raised: a failed attempt, never a crash
            self._events.put(("fail", item, ep, from_openai(e, ep.url)))
        else:
            self._events.put(("done", item, ep, comp))

    def _check(self, ep: EndpointState) -> None:
        try:
            self.backend.list_models(self.backend.endpoint(ep.url))
            ok = True
        except Exception:
            ok = False
        self._events.put(("probe", ep, ok))


def _refusal(err: RemoteError) -> str:
    """A refused line's error message: the server's own, with its status."""
    return f"HTTP {err.status}: {err.message}" if err.status else err.message
