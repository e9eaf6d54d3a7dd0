"""`--help` of every command, and the parser's own usage errors, through the
real CLI in-process (no model loads): a flag without a value shows none, an
argument its name alone, one style for defaults, examples at the end; every
usage error is one `oruel: error: ...` line and exit 2."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli_inproc import Result, in_process_cli
from typer.main import get_command

from oruel_cli.cli.main import ROOT_ONLY, app, build_app

ORUEL = Path(sys.executable).with_name("oruel")


@pytest.fixture
def cli(monkeypatch, capsys):
    return in_process_cli(monkeypatch, capsys, columns=100)


def _commands() -> list[list[str]]:
    """Every command path of the app, groups included ([] is `oruel` itself)."""
    out: list[list[str]] = []

    def walk(cmd, path: list[str]) -> None:  # noqa: ANN001 - a click command
        out.append(path)
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return out


COMMANDS = _commands()


def test_every_command_is_found():
    names = {" ".join(p) for p in COMMANDS}
    assert {"", "ask", "chat", "run", "serve", "bench", "logs show", "params explain"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "oruel")
def test_help_of_every_command(cli, path):
    r = cli(*path, "--help")
    assert r.code == 0, r.err
    text = r.out
    assert not re.search(r"<(bool|str|path|int|float)>", text), text  # no Typer type names
    assert "{" not in text.split("\n\n")[0] + text.splitlines()[1], text  # usage line: no braces
    assert "[default:" not in text, text  # one style: "(default: X)"
    assert not re.search(r"\(default \w", text), text
    examples = text.split("Examples:")
    assert len(examples) == 2, f"no examples in `oruel {' '.join(path)} --help`"
    lines = [ln.strip() for ln in examples[1].splitlines() if ln.strip()]
    assert 2 <= len(lines) <= 3, lines
    command = " ".join(["oruel", *path])
    wanted = command if path and path[0] not in ("logs", "models", "presets", "params") else "oruel"
    assert all("oruel " in ln for ln in lines), lines
    assert any(wanted in ln for ln in lines), (wanted, lines)


def _script_help(*path: str) -> str:
    """--help of the installed script (in-process, Typer names the program after pytest)."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100", "TERM": "dumb"}
    done = subprocess.run([str(ORUEL), *path, "--help"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return "\n".join(ln.strip() for ln in done.stdout.splitlines())


def test_the_usage_lines_name_arguments_plainly():
    assert "Usage: oruel run [OPTIONS] INPUT.jsonl\n" in _script_help("run")
    assert "Usage: oruel logs show [OPTIONS] ID\n" in _script_help("logs", "show")
    assert "Usage: oruel ask [OPTIONS] [PROMPT]\n" in _script_help("ask")  # optional: brackets


def test_logs_help_names_every_command_that_logs(cli):
    text = " ".join(cli("logs", "--help").out.split())
    assert "ask and chat" in text and "run --log" in text


def _one_error(r: Result) -> str:
    assert r.code == 2, (r.code, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.err, r.err
    assert lines[0].startswith("oruel: error: "), lines[0]
    return lines[0].removeprefix("oruel: error: ")


@pytest.mark.parametrize(
    "args, words",
    [
        (("bench", "--tokens", "4"), "'--tokens'"),
        (("logs", "show"), "missing argument 'ID'"),
        (("params", "explain"), "missing argument 'NAME'"),
        (("presets", "show", "a", "b"), "unexpected extra argument"),
        (("ask", "--temprature", "1", "hi"), "no such option: --temprature"),
        (("bogus",), "no such command 'bogus'"),
        (("ask", "hi", "--top-k"), "'--top-k' requires an argument"),
    ],
)
def test_parser_errors_are_oruel_errors(cli, args, words):
    msg = _one_error(cli(*args))
    assert words in msg and "Error:" not in msg


def _root_help(only: str | None) -> str:
    """`oruel --help` drawn by the app build_app(only) makes, 100 columns wide."""
    buf = io.StringIO()
    sys_stdout, sys.stdout = sys.stdout, buf
    try:
        build_app(only)(["--help"], prog_name="oruel", standalone_mode=False)
    finally:
        sys.stdout = sys_stdout
    return buf.getvalue()


def test_the_root_help_built_from_the_help_lines_is_the_whole_apps(monkeypatch):
    """`oruel --help` imports no command (each is a stand-in holding its help
    line): what it shows must equal what the whole app shows."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("TERM", "dumb")
    whole, lean = _root_help(None), _root_help(ROOT_ONLY)
    assert "Commands" in whole and "serve" in whole
    assert lean == whole


def test_the_root_help_imports_no_command_module():
    probe = (
        "import sys; sys.argv = ['oruel', '--help']\n"
        "from oruel_cli.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.endswith('_cmd')), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stderr.strip() == "[]", done.stderr


def test_no_command_still_shows_the_help(cli):
    r = cli()
    assert r.code == 2 and "Usage: " in r.out and "Commands" in r.out and "error" not in r.err


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_an_empty_prompt_is_a_usage_error(cli, prompt):
    assert "PROMPT is empty" in _one_error(cli("ask", prompt))
    assert "PROMPT is empty" in _one_error(cli("ask", prompt, stdin="some piped text\n"))
