"""What the routes share: the models, the parameter layers, the metrics, the
server's phase (loading, ready, draining), and one log record per request."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..config import Config
from ..params.layering import ParamResolver
from .metrics import Metrics
from .models import Registry


@dataclass
class ServeState:
    config: Config
    registry: Registry
    resolver: ParamResolver
    metrics: Metrics
    api_key: str | None = None
    ready: bool = False  # every model loaded
    draining: bool = False  # a signal came: new requests get 503
    active: int = 0  # chat requests being answered (parsed, queued, running or streaming)
    handles: set[Any] = field(default_factory=set)  # submitted and not finished
    log: TextIO = field(default_factory=lambda: sys.stderr)
    replies: Any = None  # a ReplyLog with --log: every reply is kept in the reply log

    @property
    def failed(self) -> str | None:
        """Why a model's engine stopped, if one did: the server then answers 503
        and /health fails, so that a supervisor restarts it."""
        return next((m.failed for m in self.registry.models if m.failed), None)

    def say(self, text: str) -> None:
        """One line on stderr, whole (lines of concurrent requests never mix)."""
        self.log.write(f"oruel serve: {text}\n")
        self.log.flush()


@dataclass
class RequestLog:
    """What the log line of one request says; the routes fill it in."""

    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    id: str = "-"
    model: str | None = None
    status: int | None = None  # set by a route when no response could be sent (499)
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft: float | None = None  # arrival to the first generated token
    notes: list[str] = field(default_factory=list)

    def line(self, status: int) -> str:
        total = time.perf_counter() - self.started
        parts = [self.id, self.method, self.path, f"status={status}"]
        if self.model is not None:
            parts.append(f"model={self.model}")
        if self.finish_reason is not None:
            parts.append(f"finish={self.finish_reason}")
        if self.model is not None or self.prompt_tokens:
            parts.append(f"prompt={self.prompt_tokens} completion={self.completion_tokens}")
            ttft = "-" if self.ttft is None else f"{self.ttft:.3f}s"
            parts.append(f"ttft={ttft}")
        parts.append(f"time={total:.3f}s")
        return " ".join(parts + [f"({n})" for n in self.notes])
