"""Shell completion through the installed `oruel` script, as a shell drives it:
Typer's protocol sets `_ORUEL_COMPLETE=complete_bash` with COMP_WORDS and
COMP_CWORD (bash), or `complete_zsh` with `_TYPER_COMPLETE_ARGS` (zsh), and reads
the candidates on stdout. One test sources the real bash script in bash."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from oruel_cli.params.model import PARAM_NAMES

ORUEL = Path(sys.executable).with_name("oruel")
BUILTIN = ["brainstorming", "chatbot", "classification", "code", "creative", "extraction",
           "qa", "summarization", "translation"]  # fmt: skip


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("_ORUEL")}
    base.pop("ORUEL_MODELS_DIR", None)
    return {**base, **extra}


def bash(line: str, **extra: str) -> list[str]:
    """The candidates for the last word of `line` (a trailing space: a new word)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    proc = subprocess.run(
        [str(ORUEL)],
        env=env(_ORUEL_COMPLETE="complete_bash", COMP_WORDS=line, COMP_CWORD=str(cword), **extra),
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return [c for c in proc.stdout.splitlines() if c]


def zsh(line: str) -> str:
    proc = subprocess.run(
        [str(ORUEL)],
        env=env(_ORUEL_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS=line),
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return proc.stdout


@pytest.fixture
def models_world(isolated_env: Path, tmp_path: Path) -> dict[str, str]:
    """A models folder with one file and a config with two aliases (one remote)."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "tiny-q4.gguf").write_bytes(b"")
    (isolated_env / "config.yaml").write_text(
        f"aliases:\n  fast: {folder / 'tiny-q4.gguf'}\n  remote: meta-llama/Llama-4\n",
        encoding="utf-8",
    )
    return {"ORUEL_MODELS_DIR": str(folder)}


COMMANDS = ["ask", "chat", "run", "bench", "serve", "params", "presets", "models", "logs"]


def test_commands():
    assert sorted(bash("oruel ")) == sorted(COMMANDS)
    assert bash("oruel pr") == ["presets"]
    assert bash("oruel params ") == ["list", "explain"]


@pytest.mark.parametrize("line", ["oruel ask -p c", "oruel ask --preset c", "oruel run -p c"])
def test_preset_names(line):
    assert bash(line) == ["chatbot", "classification", "code", "creative"]


def test_preset_names_include_the_users(isolated_env):
    folder = isolated_env / "presets"
    folder.mkdir()
    (folder / "terse.yaml").write_text("name: terse\nparams: {max_tokens: 50}\n", "utf-8")
    (folder / "broken.yaml").write_text("", "utf-8")  # still a name to complete
    assert bash("oruel presets show ") == sorted([*BUILTIN, "terse", "broken"])
    assert bash("oruel ask -p t") == ["terse", "translation"]


def test_parameter_names():
    assert bash("oruel params explain ") == list(PARAM_NAMES)
    assert bash("oruel params explain top") == ["top_p", "top_k", "top_logprobs"]
    assert bash("oruel params explain max") == ["max_tokens"]


def test_sweep_names_come_with_their_equals_sign():
    assert bash("oruel ask --sweep ") == [f"{n}=" for n in PARAM_NAMES] + ["preset="]
    assert bash("oruel ask --sweep top") == ["top_p=", "top_k=", "top_logprobs="]
    assert bash("oruel ask --sweep pre") == ["presence_penalty=", "preset="]


def test_model_names_and_aliases(models_world):
    expected = ["default", "fast", "tiny-q4", "remote"]
    assert bash("oruel ask -m ", **models_world) == expected
    assert bash("oruel run --model ", **models_world) == expected
    assert bash("oruel models info ", **models_world) == expected
    assert bash("oruel bench -m t", **models_world) == ["tiny-q4"]


def test_a_bad_config_completes_quietly(isolated_env):
    (isolated_env / "config.yaml").write_bytes(b"\x89PNG\x00\xff")
    assert bash("oruel ask -m ") == ["default"]  # no error text in the command line


@pytest.mark.parametrize(
    "line, expected",
    [
        ("oruel ask --repack ", ["auto", "on", "off"]),
        ("oruel bench --repack o", ["on", "off"]),
        ("oruel ask --tier ", ["standard", "turbo"]),
        ("oruel ask --tool-choice ", ["auto", "none", "required"]),
        ("oruel run --response-format ", ["text", "json_object"]),
        ("oruel ask --max-tok", ["--max-tokens"]),
    ],
)
def test_choices_and_options(line, expected):
    assert bash(line) == expected


@pytest.mark.parametrize("line", ["oruel ask -p ./", "oruel ask -m ~/", "oruel ask -m models/x"])
def test_a_path_is_left_to_the_shell(line):
    assert bash(line) == []  # bash's `complete -o default` then completes file names
    assert zsh(line).strip() == "_files"


def test_zsh_gets_names_with_their_meaning():
    out = zsh("oruel params explain top")
    assert out.startswith("_arguments ") and '"top_p":"Nucleus' in out and '"top_k":' in out


def test_the_options_that_install_it_are_there():
    proc = subprocess.run([str(ORUEL), "--help"], env=env(NO_COLOR="1", COLUMNS="200"),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0
    assert "--install-completion" in proc.stdout and "--show-completion" in proc.stdout
    proc = subprocess.run(
        [str(ORUEL), "--show-completion", "bash"],
        env=env(_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1"),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "_ORUEL_COMPLETE=complete_bash" in proc.stdout
    assert "complete -o default -F _oruel_completion oruel" in proc.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_bash_script_completes_in_bash(tmp_path):
    """The script --show-completion prints, sourced in a real bash, completes."""
    script = (
        'eval "$(_ORUEL_COMPLETE=source_bash oruel)"\n'
        "COMP_WORDS=(oruel ask -p c); COMP_CWORD=3; _oruel_completion oruel\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    path = f"{ORUEL.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], env=env(PATH=path),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["chatbot", "classification", "code", "creative"]


# Completes in-process like the script (argv[0] 'oruel'), then lists the heavy
# modules that got imported: every TAB press starts oruel, so none may load.
PROBE = """
import json, os, sys
from oruel_cli.entry import main
sys.argv = ["oruel"]
try:
    main()
except SystemExit:
    pass
heavy = ("llama_cpp", "numpy", "jinja2", "oruel_cli.engine")
sys.__stderr__.write("PROBE " + json.dumps([m for m in heavy if m in sys.modules]) + "\\n")
"""


@pytest.mark.parametrize(
    "line, cword",
    [("oruel ask -m ", "3"), ("oruel ask -p ", "3"), ("oruel params explain ", "3"),
     ("oruel run --repack ", "3"), ("oruel ", "1")],
)  # fmt: skip
def test_completion_imports_nothing_heavy(line, cword):
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env(_ORUEL_COMPLETE="complete_bash", COMP_WORDS=line, COMP_CWORD=cword),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.stdout.strip(), "completed nothing"
    probe = [ln for ln in proc.stderr.splitlines() if ln.startswith("PROBE ")]
    assert probe and json.loads(probe[0][6:]) == [], proc.stderr
