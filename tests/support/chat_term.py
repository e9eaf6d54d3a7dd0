"""`oruel chat ARGS` on a real pseudo-terminal (pexpect), its screen read with
pyte: the harness of the chat tests and of chat's /logprobs tests.

The terminal's own environment: TERM=xterm-256color, no NO_COLOR, the private
config and data folders of conftest's isolation, and PROMPT_TOOLKIT_NO_CPR=1
(pexpect does not answer prompt_toolkit's cursor-position requests). A wait for
something to show fails after ORUEL_CHAT_TEST_WAIT seconds (180), with the
screen's tail.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")
pyte = pytest.importorskip("pyte")

FAST = ["--threads", "1", "--temperature", "0", "--max-tokens", "8"]
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-B]|\x1b[=>78]|\r")
STATS = re.compile(
    r"(\d+) tokens · [\d.]+ tok/s · first token [\d.]+ s · prompt (\d+) new \+ (\d+) cached"
    r" · context \d+% of (\d+) · finish: (\w+)"
)
PROMPT = "› "
WAIT = float(os.environ.get("ORUEL_CHAT_TEST_WAIT", "180"))  # seconds for any one thing to show
ESC_ENTER, CTRL_J, CTRL_C, CTRL_D = "\x1b\r", "\n", "\x03", "\x04"


class Term:
    """`oruel chat ARGS` on a 40 x 200 pseudo-terminal: what it printed (escape
    codes removed, for expect) and what its screen shows (pyte)."""

    def __init__(self, *args: str, cwd: Path | None = None) -> None:
        env = {**os.environ, "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"}
        env.pop("NO_COLOR", None)
        self.child = pexpect.spawn(
            sys.executable, ["-m", "oruel_cli", "chat", *args], env=env, cwd=cwd,
            dimensions=(40, 200), encoding="utf-8", codec_errors="replace", timeout=5,
        )  # fmt: skip
        self.raw = ""
        self.pos = 0  # how far expect has read the plain text
        self.screen = pyte.Screen(200, 40)
        self.stream = pyte.Stream(self.screen)

    def plain(self) -> str:
        return ANSI.sub("", self.raw)

    def _read(self) -> bool:
        """Take what the child printed; False once it has exited."""
        try:
            data = self.child.read_nonblocking(65536, timeout=0.1)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            return False
        self.raw += data
        self.stream.feed(data)
        return True

    def wait(self, ok: Callable[[], object], what: str, timeout: float = WAIT) -> object:
        deadline = time.monotonic() + timeout
        while True:
            if result := ok():
                return result
            alive = self._read()
            if not alive and not ok():
                pytest.fail(f"oruel chat exited while waiting for {what}:\n{self.plain()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} after {timeout} s:\n{self.plain()[-3000:]}")

    def expect(self, pattern: str, timeout: float = WAIT) -> re.Match:
        rx = re.compile(pattern)

        def found() -> re.Match | None:
            return rx.search(self.plain(), self.pos)

        m = self.wait(found, repr(pattern), timeout)
        assert isinstance(m, re.Match)
        self.pos = m.end()
        return m

    def prompt(self) -> None:
        self.expect(re.escape(PROMPT))

    def send(self, text: str, enter: bool = True) -> None:
        self.child.send(text + ("\r" if enter else ""))

    def command(self, text: str, reply: str) -> re.Match:
        """Send a line and wait for `reply` (a regex), then for the next prompt."""
        self.send(text)
        m = self.expect(reply)
        self.prompt()
        return m

    def turn(self, text: str) -> re.Match:
        """Send a message; its stats line (tokens, new, cached, ctx, finish)."""
        self.send(text)
        m = self.expect(STATS.pattern)
        self.prompt()
        return m

    def rows(self) -> list[str]:
        return [row.rstrip() for row in self.screen.display]

    def close_ok(self) -> int:
        """Ctrl-D at an empty prompt: the exit status."""
        self.send(CTRL_D, enter=False)
        self.wait(lambda: not self.child.isalive() or None, "the end of the chat", 60)
        self.child.close()
        return self.child.exitstatus


def start(*args: str, cwd: Path | None = None) -> Term:
    term = Term(*args, cwd=cwd)
    term.expect("/help: commands")  # the banner
    term.prompt()
    return term
