"""How long to wait before trying again: exponential backoff with jitter.

The delay doubles with each failure up to a cap, and half of it is drawn at
random ("equal jitter"), so the lines that failed together (a server that
died with 16 requests in flight) do not all come back at the same moment,
and none comes back at once. A server's Retry-After is a floor: never sooner
than it asked.
"""

from __future__ import annotations

import random

BASE = 0.5  # seconds after the first failure (before jitter)
CAP = 30.0  # seconds: the longest wait between two tries


def backoff(
    failures: int, rng: random.Random | None = None, base: float = BASE, cap: float = CAP
) -> float:
    """Seconds to wait after `failures` failures in a row (>= 1): in [d/2, d],
    d = min(cap, base * 2 ** (failures - 1))."""
    if failures < 1:
        return 0.0
    d = min(cap, base * 2 ** min(failures - 1, 62))
    draw = (rng or random).random()
    return d / 2 + draw * d / 2


def retry_delay(
    failures: int, retry_after: float | None, rng: random.Random | None = None
) -> float:
    """The backoff, but not less than what Retry-After asked for."""
    delay = backoff(failures, rng)
    return max(delay, retry_after) if retry_after is not None else delay
