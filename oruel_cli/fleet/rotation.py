"""Which endpoints take lines, and which are out of rotation.

Each endpoint is in one of four states:

- ``up``: takes lines, up to its capacity in flight;
- ``cooling``: failed lately (or asked to wait with Retry-After): takes no new
  line until its cool-down ends, then is up again;
- ``out``: failed OUT_AFTER times in a row (connection errors, timeouts,
  5xx): no lines until a probe (`GET /v1/models`) answers; probes come with
  backoff;
- ``unusable``: answered 401 or 403: this key will not do, for the rest of the job.

A 429 cools an endpoint down (for its Retry-After) but does not count toward
taking it out: a busy server is not a broken one. Pure logic, clocked by the
caller, so the tests drive it with numbers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..backends.remote_errors import RemoteError
from .backoff import backoff, retry_delay

OUT_AFTER = 3  # failures in a row that take an endpoint out of rotation

UP, COOLING, OUT, UNUSABLE = "up", "cooling", "out", "unusable"


@dataclass
class EndpointState:
    url: str
    capacity: int
    state: str = UP
    in_flight: int = 0
    failures: int = 0  # in a row (429s aside)
    until: float = 0.0  # cooling: the end of the cool-down; out: the next probe
    probes: int = 0  # failed probes in a row
    probing: bool = False
    last_error: RemoteError | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def refresh(self, now: float) -> None:
        if self.state == COOLING and now >= self.until:
            self.state = UP

    def takes_lines(self, now: float) -> bool:
        self.refresh(now)
        return self.state == UP and self.in_flight < self.capacity

    @property
    def usable(self) -> bool:
        """Up or cooling down: it will take lines again without a probe."""
        return self.state in (UP, COOLING)

    def succeeded(self) -> None:
        self.failures = 0
        if self.state != UNUSABLE:
            self.state = UP

    def failed(self, err: RemoteError, now: float) -> None:
        """One request's failure: cool down, or go out of rotation, or unusable."""
        self.last_error = err
        if err.endpoint_unusable:
            self.state = UNUSABLE
            return
        if self.state in (OUT, UNUSABLE):
            return  # requests sent before it went out still come back failing
        if err.status == 429:
            self._cool(now + retry_delay(1, err.retry_after, self.rng))
            return
        self.failures += 1
        if self.failures >= OUT_AFTER:
            self.state, self.probes = OUT, 0
            self.until = now + backoff(1, self.rng)
            return
        self._cool(now + retry_delay(self.failures, err.retry_after, self.rng))

    def _cool(self, until: float) -> None:
        self.until = max(self.until, until) if self.state == COOLING else until
        self.state = COOLING

    def probe_due(self, now: float) -> bool:
        return self.state == OUT and not self.probing and now >= self.until

    def probed(self, ok: bool, now: float) -> None:
        self.probing = False
        if self.state != OUT:
            return
        if ok:
            self.state, self.failures, self.probes = UP, 0, 0
            return
        self.probes += 1
        self.until = now + backoff(self.probes + 1, self.rng)

    def next_change(self) -> float | None:
        """When this endpoint's state may change by itself (cool-down end, probe)."""
        return self.until if self.state in (COOLING, OUT) else None


class Rotation:
    """All the endpoints of a job."""

    def __init__(self, states: list[EndpointState]) -> None:
        self.states = states

    def pick(self, now: float, avoid: set[str]) -> EndpointState | None:
        """The endpoint for the next line: one that takes lines, preferring those the
        line has not failed on, then the least loaded (by share of its capacity)."""
        ready = [s for s in self.states if s.takes_lines(now)]
        if not ready:
            return None
        fresh = [s for s in ready if s.url not in avoid] or ready
        return min(fresh, key=lambda s: s.in_flight / s.capacity)

    def any_usable(self) -> bool:
        return any(s.usable for s in self.states)

    def all_unusable(self) -> bool:
        return all(s.state == UNUSABLE for s in self.states)

    def due_probes(self, now: float) -> list[EndpointState]:
        return [s for s in self.states if s.probe_due(now)]

    def next_change(self) -> float | None:
        times = [t for s in self.states if (t := s.next_change()) is not None]
        return min(times) if times else None
