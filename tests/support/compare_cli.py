"""What the tests of `ask --sweep` and `params explain --demo` share without a
model: the CLI run in-process with `load_model` replaced by a tripwire (a
command that gets that far has passed every check: LOADED), and the check
that a failure is one exit-2 message with no traceback."""

from __future__ import annotations

import io
import sys
from typing import Any

import oruel_cli.engine.loader as loader
from oruel_cli.cli.main import main

LOADED = "loaded"


class ModelWouldLoad(BaseException):
    """Raised by the tripwire; a BaseException so main() does not turn it into exit 1."""


def cli_runner(monkeypatch, capsys, isolated_env):  # noqa: ANN001, ANN201 - pytest's fixtures
    """run(*argv) -> (exit code or LOADED, stdout, stderr); a test module wraps it
    in its own `run_cli` fixture."""
    fake = isolated_env / "fake.gguf"
    fake.write_bytes(b"")

    def tripwire(*args: Any, **kwargs: Any) -> None:
        raise ModelWouldLoad

    monkeypatch.setattr(loader, "load_model", tripwire)
    monkeypatch.setattr(loader, "gpu_offload_supported", lambda: False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> tuple[Any, str, str]:
        argv = ["oruel", *args, "-m", str(fake)] if args[0] in ("ask", "params") else ["oruel"]
        monkeypatch.setattr(sys, "argv", argv)
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        try:
            main()
            code: Any = 0
        except SystemExit as e:
            code = e.code
        except ModelWouldLoad:
            code = LOADED
        out, err = capsys.readouterr()
        return code, out, err

    return run


def one_error(result: tuple[Any, str, str]) -> str:
    code, _, err = result
    assert code == 2, (code, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("oruel: error: "), err
    return lines[0].removeprefix("oruel: error: ")
