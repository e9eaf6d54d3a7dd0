"""Waiting for what a process shows, with a deadline, instead of sleeping a
fixed time before a signal: on a slow machine a test still tests its moment."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable

import pytest

DEADLINE = 180.0  # seconds: generous, a slow host is no failure


def wait_until(check: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Poll `check` until it holds; fail the test after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            pytest.fail(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.01)


class Output:
    """What a pipe has printed so far, read on a thread as it comes."""

    def __init__(self, pipe) -> None:  # noqa: ANN001 - a binary pipe
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe) -> None:  # noqa: ANN001
        while chunk := os.read(pipe.fileno(), 65536):
            self._chunks.append(chunk)

    @property
    def text(self) -> str:
        return b"".join(self._chunks).decode("utf-8", "replace")

    def wait_for(self, needle: str, what: str = "") -> None:
        wait_until(lambda: needle in self.text, what or repr(needle))

    def wait_any(self, what: str) -> None:
        wait_until(lambda: bool(self.text.strip()), what)

    def close(self) -> str:
        self._thread.join(timeout=60)
        return self.text


def start(
    args: list[str], env: dict | None = None, ignore_sigint: bool = False
) -> tuple[subprocess.Popen, Output, Output]:
    """Start a process with stdout and stderr watched; with `ignore_sigint`, SIGINT
    ignored from its start (as a shell starts a script's background job)."""
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        preexec_fn=_ignore_sigint if ignore_sigint else None,
    )  # fmt: skip
    return proc, Output(proc.stdout), Output(proc.stderr)


def finish(
    proc: subprocess.Popen, out: Output, err: Output, timeout: float = 60
) -> tuple[int, str, str]:
    """Wait for the end (kill a runaway: it would slow every later test); rc, out, err."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"the process still ran {timeout:.0f} s after it was told to stop")
    return proc.returncode, out.close(), err.close()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
