"""A batch job's counts and times (local or on a fleet of endpoints), and the
summary printed at its end."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class JobStats:
    total: int = 0  # lines in the input (non-blank)
    skipped: int = 0  # already done (resume)
    ok: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    started: float = field(default_factory=time.perf_counter)
    interrupted: bool = False
    stopped: str | None = (
        None  # why a job stopped before its end (a fleet with every endpoint down)
    )
    json_unasked: list[int] = field(default_factory=list)  # json_object lines not asking for JSON

    def json_warning(self) -> str | None:
        """One warning for all the json_object lines whose messages never mention JSON."""
        if not self.json_unasked:
            return None
        shown = ", ".join(map(str, self.json_unasked[:10]))
        more = f" and {len(self.json_unasked) - 10} more" if len(self.json_unasked) > 10 else ""
        return (
            f"{len(self.json_unasked)} line(s) set response_format json_object but no message "
            f"mentions JSON (line {shown}{more}); say so in the prompt"
        )

    @property
    def done(self) -> int:
        return self.skipped + self.ok + self.failed

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.elapsed if self.elapsed > 0 else 0.0


def summary_rows(stats: JobStats) -> list[tuple[str, Any]]:
    return [
        ("ok", stats.ok),
        ("failed", stats.failed),
        ("skipped (done before)", stats.skipped),
        ("prompt tokens", stats.prompt_tokens),
        ("completion tokens", stats.completion_tokens),
        ("tokens/s", f"{stats.tokens_per_second:.1f}"),
        ("elapsed", f"{stats.elapsed:.1f} s"),
    ]
