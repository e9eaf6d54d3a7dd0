"""The real `oruel` CLI run in-process (its `main()`, argv and stdin set, stdout
and stderr captured by pytest): for tests that need no model, where a
subprocess per call would cost more than the test."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from oruel_cli.cli.main import main


@dataclass
class Result:
    code: int | str | None
    out: str
    err: str

    def error(self) -> str:
        """The one error line of an exit-2 usage error, as printed."""
        assert self.code == 2, (self.code, self.out, self.err)
        lines = self.err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in self.err, self.err
        return lines[0]


class Tty(io.StringIO):
    """stdin as a terminal the user types into."""

    def isatty(self) -> bool:
        return True


def in_process_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], columns: int
) -> Callable[..., Result]:
    """run(*args, stdin="", tty=False) -> Result, on a plain `columns`-wide terminal."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setenv("TERM", "dumb")

    def run(*args: str, stdin: str = "", tty: bool = False) -> Result:
        monkeypatch.setattr(sys, "argv", ["oruel", *args])
        monkeypatch.setattr(sys, "stdin", (Tty if tty else io.StringIO)(stdin))
        try:
            main()
            code: int | str | None = 0
        except SystemExit as e:
            code = e.code
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run
