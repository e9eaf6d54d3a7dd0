"""--since, --until and --before: ISO dates and times, as a user types them.

Accepted: `2025-05-01`, `2025-05-01T14:30`, `2025-05-01 14:30:05`, with an optional
offset (`Z`, `+02:00`), or a time alone (`14:30`: today). Without an offset the
time is local. A date alone means the start of that day, except for --until,
where it means the whole day (until its end).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from ..errors import UsageError

_TIME_ONLY = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")


def parse_when(text: str, flag: str, end_of_day: bool = False) -> float:
    """Unix seconds of `text`; a bad one is exit 2 naming the flag and the value."""
    raw = text.strip()
    iso = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw  # 3.10 reads no "Z"
    try:
        if _TIME_ONLY.match(raw):
            when = datetime.combine(date.today(), time.fromisoformat(raw.zfill(5)))
        elif len(iso) == 10:  # a date alone
            day = date.fromisoformat(iso)
            when = datetime.combine(day + timedelta(days=1) if end_of_day else day, time())
        else:
            when = datetime.fromisoformat(iso)
    except ValueError:
        raise UsageError(
            f"invalid {flag} {text!r} (allowed: an ISO date or time, "
            "such as 2025-05-01, 2025-05-01T14:30 or 14:30)"
        ) from None
    return when.timestamp()  # naive: local time
