"""The models a server runs: one engine (and driver thread) each, its bounded
queue, and how a request's `model` finds one.

A request names a model the way `--model` does (a path, a config alias, a
name in a models folder, `default`); it is served when that resolves to the
file of a loaded model. Any other name is 404, with the same message whether
or not the name exists on disk, so the server tells nothing about its files.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from ..engine.loader import Target
from ..errors import OruelError
from .errors import ApiError

INITIAL_SECONDS = 1.0  # the guess of a request's duration before any has finished
EMA_WEIGHT = 0.2  # how much each finished request moves the average
NAME_CACHE_MAX = 256  # names remembered as resolving to a loaded model


@dataclass
class ServedModel:
    """One loaded model: `id` is the name /v1/models lists (the --model value as given)."""

    id: str
    target: Target
    n_slots: int
    queue_max: int
    backend: Any = None  # LocalBackend, once loaded
    avg_seconds: float = INITIAL_SECONDS
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def path(self) -> Path:
        return self.target.path

    @property
    def running(self) -> int:
        return self.backend.driver.running if self.backend is not None else 0

    @property
    def waiting(self) -> int:
        """Requests submitted and not admitted yet."""
        if self.backend is None:
            return 0
        return max(0, self.backend.driver.pending - self.n_slots)

    @property
    def failed(self) -> str | None:
        """Why this model's driver stopped (a step raised), if it did."""
        return self.backend.driver.failed if self.backend is not None else None

    def check_room(self) -> None:
        """429 when the queue is full, with a Retry-After from the queue's length
        and the average request's duration: about when a place will be free."""
        if self.backend is None:
            return
        if self.backend.driver.pending < self.n_slots + self.queue_max:
            return
        wait = math.ceil((self.waiting + 1) * self.avg_seconds / self.n_slots)
        retry = max(1, wait)
        raise ApiError(
            429,
            f"the server is busy: {self.n_slots} requests running and {self.waiting} waiting "
            f"for model {self.id!r} (the queue holds {self.queue_max}); retry in {retry} s",
            code="queue_full",
            headers={"Retry-After": str(retry)},
        )

    def finished(self, seconds: float) -> None:
        """A request ran for `seconds` (admission to finish): update the average."""
        with self._lock:
            self.avg_seconds += EMA_WEIGHT * (seconds - self.avg_seconds)


class Registry:
    """The loaded models, in --model order; the first is the default."""

    def __init__(self, config: Config, models: list[ServedModel]) -> None:
        self.config = config
        self.models = models
        self._by_name: dict[str, ServedModel] = {}
        for m in models:  # its id, then its file's stem and name (the first model wins a tie)
            for name in (m.id, m.path.stem, m.path.name):
                self._by_name.setdefault(name, m)

    @property
    def default(self) -> ServedModel:
        return self.models[0]

    def ids(self) -> str:
        return ", ".join(m.id for m in self.models)

    def find(self, name: str | None) -> ServedModel:
        """The model a request's `model` names (None: the default); 404 otherwise."""
        if name is None:
            return self.default
        found = self._by_name.get(name) or self._resolve(name)
        if found is None:
            raise ApiError(
                404,
                f"the model {name!r} does not exist or is not loaded on this server; "
                f"it serves: {self.ids()}",
                param="model",
                code="model_not_found",
            )
        return found

    def shown(self, requested: str | None, served: ServedModel) -> str:
        """The model name a reply carries: the client's own name for it, unless
        that is a path (a reply never shows one), else the served id."""
        if requested is None or "/" in requested or os.sep in requested:
            return served.id
        return requested

    def lookup(self, spec: str) -> ServedModel | None:
        """The loaded model a name resolves to (a tier profile's model), or None."""
        return self._by_name.get(spec) or self._resolve(spec)

    def _resolve(self, name: str) -> ServedModel | None:
        from ..models.resolve import resolve_model

        try:
            path = _same_file_key(resolve_model(name, self.config))
        except (OruelError, OSError, ValueError):
            return None
        for m in self.models:
            if _same_file_key(m.path) == path:
                if len(self._by_name) < NAME_CACHE_MAX:  # a name resolves the same way again
                    self._by_name.setdefault(name, m)
                return m
        return None


def _same_file_key(path: Path) -> str:
    return os.path.normcase(str(Path(path).expanduser().resolve()))
