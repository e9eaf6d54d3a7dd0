"""How far a parameter walks: `oruel chat -t 0.37` on the real model, in-process,
with a profiler hook that records every oruel function handed the temperature
(the text "0.37" or the number, or a dict, list or oruel object holding it)
until the engine has it. The command line's own objects (argv, the parsed
options every command helper is handed) are not followed: they hold every
flag, so the command and its options module count once, as the start. Nor is
Typer's own parsing, where every option's text passes (cli/lazy_options.py
wraps a method of Typer's parameter class)."""

from __future__ import annotations

import io
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import oruel_cli
from oruel_cli.cli.main import main
from oruel_cli.common.options import CommonOptions

pytestmark = pytest.mark.model

MARK = 0.37
PACKAGE = str(Path(oruel_cli.__file__).resolve().parent) + "/"
START = ["cli/chat_cmd.py", "common/options.py"]  # the command and its parsed flags
ENGINE = "engine/engine.py"
PARSER = {"cli/lazy_options.py"}  # inside Typer's parse of the command line
MAX_FILES = 10


def holds(value: Any, depth: int = 0) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return value == MARK
    if isinstance(value, str):
        return value == str(MARK)
    if depth > 1 or isinstance(value, CommonOptions):
        return False
    if isinstance(value, dict):
        return any(holds(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        is_argv = list(value) in (sys.argv, sys.argv[1:])  # the command line as typed
        return not is_argv and any(holds(v, depth + 1) for v in value[:8])
    fields = getattr(value, "__dict__", None)
    if fields is None or not type(value).__module__.startswith("oruel_cli"):
        return False
    if getattr(value, "temperature", None) == MARK:
        return True
    return any(holds(v, depth + 1) for v in fields.values())


def test_the_temperature_reaches_the_engine_through_at_most_ten_files(monkeypatch, capsys):
    reached: list[str] = []  # files in the order the value first reaches them

    def hook(frame, event, arg):  # noqa: ANN001, ANN202 - sys.setprofile's signature
        if event != "call" or ENGINE in reached:
            return
        path = frame.f_code.co_filename
        if not path.startswith(PACKAGE):
            return
        code = frame.f_code
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        name = path[len(PACKAGE) :]
        if (
            name not in reached
            and name not in PARSER
            and any(holds(frame.f_locals.get(n)) for n in names)
        ):
            reached.append(name)

    monkeypatch.setattr(sys, "argv", ["oruel", "chat", "-t", str(MARK), "--max-tokens", "2"])
    monkeypatch.setattr(sys, "stdin", io.StringIO("hi\n"))
    threading.setprofile(hook)  # the driver steps on a thread of its own
    sys.setprofile(hook)
    try:
        main()
    except SystemExit as e:
        assert e.code in (0, None)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    assert "2 tokens" in capsys.readouterr().err
    assert ENGINE in reached, reached
    walk = START + [f for f in reached[: reached.index(ENGINE) + 1] if f not in START]
    assert len(walk) <= MAX_FILES, walk
