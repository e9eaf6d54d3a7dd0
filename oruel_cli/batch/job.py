"""A batch job: lines in, records out, through the engine's continuous batching.

Lines are read ahead in a window (at least 256); turbo lines in the window are
admitted before standard ones. The engine's own queue is kept short, so the
window decides the order. Each record is written (flushed, fsynced) as its
line finishes; an interrupted job leaves only whole records, and `--resume`
runs what has no success yet.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator

from ..backends.local import LocalBackend
from ..config import Config
from ..engine.completion import complete
from ..engine.engine import Event, Finish, Request
from ..engine.reply import json_warning
from ..errors import ContextTooLong, OruelError, RuntimeFailure
from ..params.layering import ParamResolver
from ..signals import stop_pending
from .reader import BatchLine, LineError
from .sink import JobSink
from .stats import JobStats, summary_rows

__all__ = ["BatchJob", "JobStats", "summary_rows"]

WINDOW = 256


class BatchJob:
    def __init__(
        self,
        backend: LocalBackend,
        resolver: ParamResolver,
        config: Config,
        sink: JobSink,
        job_model: str,
    ) -> None:
        self.backend = backend
        self.resolver = resolver
        self.config = config
        self.sink = sink
        self.stats = sink.stats
        self.job_model = job_model  # the model file's path: the source of each reply
        self._window: list[tuple[int, int, Request]] = []
        self._order = itertools.count()
        self._finished_now: list[Finish] = []  # the driver's sink: Finishes of the last step

    def run(self, lines: Iterator[BatchLine]) -> JobStats:
        """Run every line; on KeyboardInterrupt stop admitting, drop the in-flight
        lines (no record: a resume runs them) and return with `interrupted` set."""
        lines = iter(lines)
        exhausted = False
        try:
            while True:
                while not exhausted and len(self._window) < WINDOW:
                    line = next(lines, None)
                    if line is None:
                        exhausted = True
                    else:
                        self._read(line)
                self._top_up()
                if not self.backend.driver.pending:
                    if exhausted and not self._window:
                        break
                    continue
                self.backend.driver.advance()
                if stop_pending():  # a Ctrl-C lost in llama.cpp's log callback (signals.py)
                    raise KeyboardInterrupt
                finished, self._finished_now = self._finished_now, []
                for ev in finished:
                    self._finished(ev)
        except KeyboardInterrupt:
            self.stats.interrupted = True
        return self.stats

    def _top_up(self) -> None:
        """Keep exactly as many requests in the driver as it has slots."""
        driver = self.backend.driver
        while self._window and driver.pending < driver.n_slots:
            _, _, req = heapq.heappop(self._window)
            driver.submit(req, self._on_event)

    def _on_event(self, ev: Event) -> None:
        if isinstance(ev, Finish):
            self._finished_now.append(ev)

    def _read(self, line: BatchLine) -> None:
        if self.sink.skip_done(line):
            return
        if line.error is not None:
            self.sink.fail(line, line.error)
            return
        try:
            req = self._request(line)
        except _LineFailure as e:
            self.sink.fail(line, e.error)
            return
        heapq.heappush(self._window, (req.priority, next(self._order), req))

    def _request(self, line: BatchLine) -> Request:
        try:
            resolved = self.resolver.resolve(line.params, line.preset, line.system)
        except OruelError as e:
            raise _LineFailure("invalid_parameter", str(e)) from None
        tier = resolved.params.tier
        prof = self.config.tier(tier)
        if prof and prof.model and not self._same_model(prof.model):
            raise _LineFailure(
                "tier_model_mismatch",
                f"tier {tier!r} runs model {prof.model!r}, but this job runs "
                f"{self.job_model!r}: run the turbo lines in a job of their own with --model",
            )
        try:
            req = self.backend.prepare(
                line.messages or [], resolved.params, resolved.system, user=(line, resolved),
                template_kwargs=line.template_kwargs,
            )  # fmt: skip
        except ContextTooLong as e:
            raise _LineFailure("context_length_exceeded", str(e)) from None
        except RuntimeFailure as e:  # the model file's template broke: not the line's fault
            raise _LineFailure("template_error", str(e)) from None
        except OruelError as e:
            raise _LineFailure("invalid_parameter", str(e)) from None
        if json_warning(line.messages or [], resolved.params, resolved.system):
            self.stats.json_unasked.append(line.line_no)
        return req

    def _same_model(self, spec: str) -> bool:
        from ..models.resolve import resolve_model

        try:
            return str(resolve_model(spec, self.config)) == self.job_model
        except OruelError:
            return False

    def _finished(self, ev: Finish) -> None:
        line, resolved = ev.request.user  # type: ignore[misc]
        comp = complete(ev, self.backend.model_name)
        if comp.error is not None:
            error = LineError("generation_failed", f"the generation failed: {comp.error}")
            self.sink.fail(line, error)
        elif comp.schema_error:
            self.sink.fail(line, LineError("schema_violation", comp.schema_error))
        else:
            self.sink.succeed(line, resolved, comp, self.job_model)


class _LineFailure(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error = LineError(code, message)
