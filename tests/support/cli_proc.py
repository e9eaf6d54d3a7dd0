"""The real `oruel` CLI in a subprocess (`python -m oruel_cli`), its output captured."""

from __future__ import annotations

import os
import subprocess
import sys


def oruel(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`oruel ARGS` with `stdin` piped in (none: /dev/null), `env` over this one's."""
    return subprocess.run(
        [sys.executable, "-m", "oruel_cli", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
