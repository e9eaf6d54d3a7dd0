"""--show-params and chat's /params show what is in effect and why: a terminal
streams whatever `stream` says, and the context's size without --ctx is the
model's training context up to the cap, as chat's banner says.

The ask and chat cases run the real CLI in-process and stop it at the model
load (a tripwire); /params runs a piped chat on the real model."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

import oruel_cli.engine.loader as loader
from oruel_cli.cli.main import main
from oruel_cli.models.gguf import check_gguf
from oruel_cli.models.resolve import embedded_model_path


class ModelWouldLoad(BaseException):
    """Raised by the tripwire; a BaseException so main() does not turn it into exit 1."""


@pytest.fixture
def show(monkeypatch, capsys):
    def tripwire(*args, **kwargs):
        raise ModelWouldLoad

    monkeypatch.setattr(loader, "load_model", tripwire)
    monkeypatch.setattr(loader, "gpu_offload_supported", lambda: False)
    monkeypatch.setenv("NO_COLOR", "1")

    def run(*args: str, tty: bool = False) -> list[str]:
        monkeypatch.setattr(sys, "argv", ["oruel", *args, "--show-params"])
        monkeypatch.setattr(sys, "stdin", io.StringIO("" if args[0] == "ask" else "hi\n"))
        monkeypatch.setattr(sys.stdout, "isatty", lambda: tty, raising=False)
        with pytest.raises(ModelWouldLoad):
            main()
        return capsys.readouterr().err.splitlines()

    return run


def _line(lines: list[str], name: str) -> str:
    return next(ln for ln in lines if ln.startswith(f"{name} = "))


def trained() -> int:
    path = embedded_model_path()
    assert path is not None
    n = check_gguf(path).context_length
    assert n
    return n


@pytest.mark.parametrize("command", [["ask", "hi"], ["chat"]])
def test_a_terminal_streams_and_says_why(show, command):
    assert _line(show(*command, tty=True), "stream") == (
        "stream = true (stdout is a terminal: replies stream there)"
    )
    assert _line(show(*command), "stream") == "stream = false (default)"  # piped: as it says


def test_ask_says_why_it_does_not_stream(show, tmp_path):
    assert _line(show("ask", "--no-stream", "hi", tty=True), "stream") == (
        "stream = false (default)"
    )
    preset = tmp_path / "streamy.yaml"
    preset.write_text("name: streamy\nparams: {stream: true}\n", encoding="utf-8")
    got = _line(show("ask", "-p", str(preset), "--output-json", "hi"), "stream")
    assert got == "stream = false (--output-json)"


@pytest.mark.parametrize("command", [["ask", "hi"], ["chat"]])
def test_the_context_size_in_effect(show, command):
    size = min(trained(), loader.CHAT_CTX_CAP)
    assert _line(show(*command), "ctx") == (
        f"ctx = {size} (default: the model's training context {trained()}, "
        f"at most {loader.CHAT_CTX_CAP})"
    )
    assert _line(show(*command, "--ctx", "512"), "ctx") == "ctx = 512 (flag)"


def test_run_shows_the_context_per_slot(show, tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"prompt": "hi"}\n', encoding="utf-8")
    size = min(trained(), loader.SLOT_CTX_CAP)
    assert _line(show("run", str(jobs), "-o", str(tmp_path / "out.jsonl")), "ctx") == (
        f"ctx = {size} (default: the model's training context {trained()}, "
        f"at most {loader.SLOT_CTX_CAP})"
    )


@pytest.mark.model
def test_chat_params_shows_the_banners_context(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "oruel_cli", "chat"],
        input="/params\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    size = min(trained(), loader.CHAT_CTX_CAP)
    assert f"ctx = {size} (default: the model's training context {trained()}" in done.stderr
