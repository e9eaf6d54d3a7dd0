"""Where a batch job's lines end, whether the job runs locally or on a fleet of
endpoints: one record per line (the writer flushes and fsyncs each), counted in
the job's stats, the progress told, and each success handed to `run --log`
once its record is written. One class, so both jobs keep the same promises."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..engine.reply import Completion
from ..params.layering import Resolved
from .output import ResultWriter
from .reader import BatchLine, LineError
from .records import error_record, success_record
from .stats import JobStats

# `run --log`: the messages sent, the resolved parameters, the reply, and where
# it came from (the model file, or the endpoint's URL).
OnReply = Callable[[list[dict[str, Any]], Resolved, Completion, str], None]


class JobSink:
    def __init__(
        self,
        writer: ResultWriter,
        done_ids: set[str],
        on_progress: Callable[[JobStats], None] = lambda s: None,
        on_reply: OnReply | None = None,
    ) -> None:
        self.writer = writer
        self.done_ids = done_ids
        self.on_progress = on_progress
        self.on_reply = on_reply
        self.stats = JobStats()

    def skip_done(self, line: BatchLine) -> bool:
        """A line that already has a success (`--resume`): counted, not run again."""
        if line.id not in self.done_ids:
            return False
        self.stats.skipped += 1
        self.on_progress(self.stats)
        return True

    def succeed(
        self, line: BatchLine, resolved: Resolved, comp: Completion, source: str, **extra: Any
    ) -> None:
        """The line's success record (`extra` adds fields, a fleet's endpoint and
        attempts), then the log's row."""
        record = success_record(line, comp.to_openai(), resolved.effective.set_values())
        record.update(extra)
        self.writer.write(record)
        self.stats.ok += 1
        self.stats.prompt_tokens += comp.prompt_tokens
        self.stats.completion_tokens += comp.completion_tokens
        self.on_progress(self.stats)
        if self.on_reply is not None:
            self.on_reply(line.messages or [], resolved, comp, source)

    def fail(self, line: BatchLine, error: LineError, **extra: Any) -> None:
        """The line's error record (`extra` as for `succeed`)."""
        record = error_record(line, error)
        record.update(extra)
        self.writer.write(record)
        self.stats.failed += 1
        self.on_progress(self.stats)
