"""/metrics: Prometheus text from a registry of the server's own (not the
process-wide default, so nothing else registered in the process leaks in).

Running and queued requests are read from the engines when scraped; the
counters and histograms are updated as requests end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .models import ServedModel

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class _EngineGauges(Collector):
    def __init__(self, models: Callable[[], list[ServedModel]]) -> None:
        self._models = models

    def collect(self) -> Iterable[GaugeMetricFamily]:
        running = GaugeMetricFamily(
            "oruel_requests_running", "Requests decoding in an engine slot.", labels=["model"]
        )
        queued = GaugeMetricFamily(
            "oruel_requests_queued", "Requests waiting for a slot.", labels=["model"]
        )
        for m in self._models():
            running.add_metric([m.id], m.running)
            queued.add_metric([m.id], m.waiting)
        yield running
        yield queued


class Metrics:
    """The server's metrics; `status` labels are HTTP status codes (499: the
    client went away before its reply was whole)."""

    def __init__(self, models: Callable[[], list[ServedModel]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        r.register(_EngineGauges(models))
        self.completed = Counter(
            "oruel_requests_completed", "Chat requests answered, by HTTP status.",
            ["status"], registry=r,
        )  # fmt: skip
        self.rejected = Counter(
            "oruel_requests_rejected", "Chat requests refused for a full queue (429) or a "
            "shutdown (503).", ["reason"], registry=r,
        )  # fmt: skip
        self.prompt_tokens = Counter(
            "oruel_prompt_tokens", "Prompt tokens of requests run.", ["model"], registry=r
        )
        self.completion_tokens = Counter(
            "oruel_completion_tokens", "Tokens generated.", ["model"], registry=r
        )
        self.ttft = Histogram(
            "oruel_time_to_first_token_seconds",
            "From the request's arrival to its first generated token.",
            ["model"], buckets=TTFT_BUCKETS, registry=r,
        )  # fmt: skip
        self.duration = Histogram(
            "oruel_request_duration_seconds", "From a chat request's arrival to its last byte.",
            buckets=DURATION_BUCKETS, registry=r,
        )  # fmt: skip

    def render(self) -> bytes:
        return generate_latest(self.registry)
