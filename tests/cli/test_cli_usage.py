"""Usage errors through the real CLI (bad values and names, and their exit
codes): every bad value exits 2 with one message naming the parameter, the value
and what is allowed, no traceback, and before any model loads.

No test here loads a model. `run_cli` runs `oruel_cli.cli.main.main` in-process
with `load_model` replaced by a tripwire that records the target and stops the
command: a run that gets that far has passed every check (its --show-params
output is on stderr) and is reported as LOADED. Every `ask` also names a model
file that is empty, so even without the tripwire nothing real could load. A few
tests run the installed `oruel` script as a subprocess to check the entry point.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.shared_data import EDGES

import oruel_cli.engine.loader as loader
from oruel_cli import __version__
from oruel_cli.cli.main import main
from oruel_cli.params.model import PARAM_NAMES
from oruel_cli.params.values import allowed

ORUEL = Path(sys.executable).with_name("oruel")
LOADED = "loaded"  # the run reached the model load (the tripwire)

# flag -> parameter, then (low edge, high edge, just below, just above) as typed.
FLAGS: dict[str, str] = {
    "--temperature": "temperature",
    "-t": "temperature",
    "--top-p": "top_p",
    "--top-k": "top_k",
    "--min-p": "min_p",
    "--seed": "seed",
    "--max-tokens": "max_tokens",
    "--frequency-penalty": "frequency_penalty",
    "--presence-penalty": "presence_penalty",
    "--repetition-penalty": "repetition_penalty",
}
INTEGER = {"top_k", "seed", "max_tokens"}
RANGE_WORDS = {
    "temperature": "from 0 to 2",
    "top_p": "from 0 to 1",
    "top_k": "from 0 to 200",
    "min_p": "from 0 to 1",
    "seed": "-2^63 to 2^64-1",
    "max_tokens": "from 1 to 131072",
    "frequency_penalty": "from -2 to 2",
    "presence_penalty": "from -2 to 2",
    "repetition_penalty": "from 0.1 to 3",
}


class ModelWouldLoad(BaseException):
    """Raised by the tripwire; a BaseException so main() does not turn it into exit 1."""


@dataclass
class Result:
    code: int | str | None
    out: str
    err: str
    targets: list[Any] = field(default_factory=list)

    def one_error(self) -> str:
        """The single error line on stderr (and nothing else there)."""
        assert self.code == 2, (self.code, self.err)
        assert "Traceback" not in self.err
        assert not self.targets, "the command got to the model load"
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("oruel: error: "), lines[0]
        return lines[0].removeprefix("oruel: error: ")


@pytest.fixture
def fake_model(isolated_env: Path) -> Path:
    path = isolated_env / "fake.gguf"
    path.write_bytes(b"")
    return path


@pytest.fixture
def run_cli(monkeypatch, capsys, fake_model):
    targets: list[Any] = []

    def tripwire(target, *args, **kwargs):
        targets.append(target)
        raise ModelWouldLoad

    monkeypatch.setattr(loader, "load_model", tripwire)  # ask, run
    monkeypatch.setattr(loader, "gpu_offload_supported", lambda: False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str, stdin: str = "") -> Result:
        argv = ["oruel", *args]
        if args and args[0] == "ask":
            argv[2:2] = ["-m", str(fake_model)]
        monkeypatch.setattr(sys, "argv", argv)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        targets.clear()
        try:
            main()
            code: int | str | None = 0
        except SystemExit as e:
            code = e.code
        except ModelWouldLoad:
            code = LOADED
        out, err = capsys.readouterr()
        return Result(code, out, err, list(targets))

    return run


def shown(name: str, text: str) -> str:
    value: Any = int(text) if name in INTEGER else float(text)
    return f"{name} = {json.dumps(value)} (flag)"


# --- every numeric flag: edges accepted, just past refused ------------------------------


@pytest.mark.parametrize("flag", list(FLAGS))
def test_flag_edges_accepted(run_cli, flag):
    name = FLAGS[flag]
    low, high, _, _ = EDGES[name]
    for text in (low, high):
        r = run_cli("ask", "--show-params", flag, text, "hi")
        assert r.code == LOADED, r.err
        assert shown(name, text) in r.err.splitlines()


@pytest.mark.parametrize("flag", list(FLAGS))
@pytest.mark.parametrize("side", ["below", "above"])
def test_flag_just_past_refused(run_cli, flag, side):
    name = FLAGS[flag]
    text = EDGES[name][2 if side == "below" else 3]
    msg = run_cli("ask", flag, text, "hi").one_error()
    assert msg == f"invalid {name} {text!r} (allowed: {allowed(name)})"  # as typed
    assert RANGE_WORDS[name] in msg


@pytest.mark.parametrize("flag", list(FLAGS))
@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "abc"])
def test_flag_not_a_finite_number_refused(run_cli, flag, text):
    name = FLAGS[flag]
    msg = run_cli("ask", flag, text, "hi").one_error()
    assert msg == f"invalid {name} {text!r} (allowed: {allowed(name)})"


def test_top_k_fraction_refused(run_cli):
    assert run_cli("ask", "--top-k", "1.5", "hi").one_error() == (
        "invalid top_k '1.5' (allowed: an integer from 0 to 200)"
    )


def test_seed_edges(run_cli):
    assert run_cli("ask", "--seed", str(-(2**63)), "hi").code == LOADED
    assert run_cli("ask", "--seed", str(2**64 - 1), "hi").code == LOADED
    assert str(2**64) in run_cli("ask", "--seed", str(2**64), "hi").one_error()
    assert str(-(2**63) - 1) in run_cli("ask", "--seed", str(-(2**63) - 1), "hi").one_error()


# --- stop, tier, response_format, tools ----------------------------------------------------


def test_stop_count_and_length(run_cli):
    five = [a for s in "abcde" for a in ("--stop", s)]
    msg = run_cli("ask", *five, "hi").one_error()
    assert msg.startswith("invalid stop ") and "at most 4" in msg
    r = run_cli("ask", "--show-params", *five[:8], "hi")
    assert r.code == LOADED and 'stop = ["a", "b", "c", "d"] (flag)' in r.err
    msg = run_cli("ask", "--stop", "x" * 257, "hi").one_error()
    assert msg.startswith("invalid stop ") and "longer than 256" in msg
    assert run_cli("ask", "--stop", "x" * 256, "hi").code == LOADED


def test_tier(run_cli):
    msg = run_cli("ask", "--tier", "fast", "hi").one_error()
    assert msg == "invalid tier 'fast' (allowed: standard or turbo)"
    for tier in ("standard", "turbo"):
        r = run_cli("ask", "--show-params", "--tier", tier, "hi")
        assert r.code == LOADED and f"tier = '{tier}' (flag)" in r.err


def test_response_format(run_cli, tmp_path):
    msg = run_cli("ask", "--response-format", "yaml", "hi").one_error()
    assert "--response-format 'yaml'" in msg and "text or json_object" in msg
    r = run_cli("ask", "--show-params", "--response-format", "json_object", "hi")
    assert r.code == LOADED and 'response_format = {"type": "json_object"} (flag)' in r.err
    schema = tmp_path / "s.json"
    schema.write_text('{"type": "object"}')
    assert "only one of" in run_cli("ask", "--json", "--json-schema", str(schema), "hi").one_error()
    assert run_cli("ask", "--json-schema", str(schema), "hi").code == LOADED


@pytest.mark.parametrize(
    "content, detail",
    [
        ('{"type": 5}', "not a valid JSON Schema"),
        ('{"type": "object", ', "neither valid JSON nor valid YAML"),
        ("plain words, not a schema", "invalid response_format"),
    ],
)
def test_json_schema_bad_file(run_cli, tmp_path, content, detail):
    schema = tmp_path / "bad.json"
    schema.write_text(content)
    assert detail in run_cli("ask", "--json-schema", str(schema), "hi").one_error()


def test_json_schema_missing_file(run_cli, tmp_path):
    msg = run_cli("ask", "--json-schema", str(tmp_path / "none.json"), "hi").one_error()
    assert "--json-schema" in msg and "cannot read" in msg


@pytest.fixture
def tools_file(tmp_path: Path) -> Path:
    path = tmp_path / "tools.json"
    path.write_text(json.dumps([{"type": "function", "function": {"name": "get_weather"}}]))
    return path


@pytest.mark.parametrize("choice", ["required", "auto", "get_weather"])
def test_tool_choice_without_tools_refused_before_the_model(run_cli, choice):
    msg = run_cli("ask", "--tool-choice", choice, "hi").one_error()
    assert msg.startswith("invalid tool_choice ") and "needs tools" in msg


def test_tool_choice_none_without_tools_is_fine(run_cli):
    assert run_cli("ask", "--tool-choice", "none", "hi").code == LOADED


def test_tool_choice_with_tools(run_cli, tools_file):
    for choice in ("auto", "none", "required", "get_weather"):
        r = run_cli("ask", "--tools", str(tools_file), "--tool-choice", choice, "hi")
        assert r.code == LOADED, r.err
    msg = run_cli("ask", "--tools", str(tools_file), "--tool-choice", "nosuch", "hi").one_error()
    assert "'nosuch'" in msg and "no such tool" in msg and "get_weather" in msg


def test_bad_tools_file(run_cli, tmp_path):
    many = tmp_path / "many.json"
    many.write_text(
        json.dumps([{"type": "function", "function": {"name": f"f{i}"}} for i in range(129)])
    )
    assert "at most 128" in run_cli("ask", "--tools", str(many), "hi").one_error()
    noname = tmp_path / "noname.yaml"
    noname.write_text("- type: function\n  function: {description: x}\n")
    assert "function.name" in run_cli("ask", "--tools", str(noname), "hi").one_error()


@pytest.mark.parametrize(
    "flag, what, detail",
    [
        ("--preset", "preset file", "not UTF-8 YAML text"),
        ("-p", "preset file", "not UTF-8 YAML text"),
        ("--json-schema", "--json-schema", "not UTF-8 JSON or YAML text"),
        ("--tools", "--tools", "not UTF-8 JSON or YAML text"),
    ],
)
def test_a_file_that_is_not_utf8_is_a_usage_error(run_cli, tmp_path, flag, what, detail):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8")
    msg = run_cli("ask", flag, str(path), "hi").one_error()
    assert msg.startswith(f"{what} {path}: ") and detail in msg


# --- runtime flags -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, detail",
    [
        (("--repack", "maybe"), "invalid --repack 'maybe' (allowed: auto, on or off)"),
        (("--flash-attn", "1"), "invalid --flash-attn '1' (allowed: auto, on or off)"),
        (("--ctx", "0"), "invalid --ctx '0' (allowed: an integer from 16 to 1048576)"),
        (("--ctx", "15"), "invalid --ctx '15'"),
        (("--ctx", "1048577"), "invalid --ctx '1048577'"),
        (("--threads", "x"), "invalid --threads 'x' (allowed: an integer from 1 to 1024)"),
        (("--threads", "0"), "invalid --threads '0'"),
        (("--threads", "1.5"), "invalid --threads '1.5'"),
        (("--gpu-layers", "-2"), "invalid --gpu-layers '-2'"),
    ],
)
def test_bad_runtime_flags(run_cli, args, detail):
    msg = run_cli("ask", *args, "hi").one_error()
    assert msg.startswith(detail)
    assert "(allowed: " in msg


def test_runtime_flags_accepted_and_shown(run_cli):
    r = run_cli("ask", "--show-params", "--ctx", "16", "--threads", "1", "--gpu-layers", "-1",
                "--repack", "off", "--flash-attn", "off", "hi")  # fmt: skip
    assert r.code == LOADED, r.err
    rt = r.targets[0].runtime
    assert (rt.ctx, rt.threads, rt.gpu_layers, rt.repack) == (16, 1, -1, False)
    assert rt.flash_attn == "off"
    lines = r.err.splitlines()
    for expected in ("ctx = 16 (flag)", "threads = 1 (flag)", "gpu_layers = -1 (flag)",
                     "flash_attn = off (flag)", "repack = off (flag)"):  # fmt: skip
        assert expected in lines


# --- --show-params: every parameter with its source, then the runtime ----------------------


def test_show_params_with_config_preset_and_flags(run_cli, isolated_env, fake_model):
    (isolated_env / "config.yaml").write_text(
        "params:\n  min_p: 0.05\nruntime:\n  threads: 3\n  repack: 'on'\n", encoding="utf-8"
    )
    r = run_cli("ask", "--show-params", "-p", "code", "-t", "0.1", "hi")
    assert r.code == LOADED, r.err
    lines = r.err.splitlines()
    assert [ln.split(" = ")[0] for ln in lines[: len(PARAM_NAMES)]] == list(PARAM_NAMES)
    for expected in (
        "temperature = 0.1 (flag)",
        "min_p = 0.05 (config)",
        'stop = ["```"] (preset code)',
        "seed = not set (default)",
        f"model = {fake_model}",
        "threads = 3 (config)",
        "repack = on (config)",
    ):
        assert expected in lines, expected
    assert r.out == ""


# --- other usage errors ------------------------------------------------------------------


def test_click_usage_errors_exit_2(run_cli):
    r = run_cli("ask", "--temprature", "1", "hi")
    assert r.code == 2 and "oruel: error: no such option" in r.err and "Traceback" not in r.err
    r = run_cli("ask", "hi", "--top-k")
    assert r.code == 2 and "requires an argument" in r.err and not r.targets


def test_interrupt_exits_130(run_cli, monkeypatch):
    import oruel_cli.cli.ask_cmd as ask_cmd

    def interrupted(prompt):
        raise KeyboardInterrupt

    monkeypatch.setattr(ask_cmd, "read_prompt", interrupted)
    r = run_cli("ask", "hi")
    # typer 0.29 turns Ctrl-C into exit 130 itself, without main()'s "oruel: interrupted".
    assert r.code == 130 and "Traceback" not in r.err and not r.targets


def test_empty_stdin_without_prompt(run_cli):
    assert "empty" in run_cli("ask").one_error()


def test_endpoint_usage_errors_come_before_anything_runs(run_cli, tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"prompt": "hi"}\n', encoding="utf-8")
    for cmd in (("ask", "hi"), ("run", str(jobs))):
        msg = run_cli(*cmd, "--endpoint", "gpu-1:8000").one_error()
        assert msg.startswith("invalid --endpoint 'gpu-1:8000' (allowed: an http://")
        msg = run_cli(*cmd, "--endpoint", "http://x/v1", "--timeout", "0").one_error()
        assert msg.startswith("invalid --timeout '0'")
        assert "go with --endpoint" in run_cli(*cmd, "--api-key", "k").one_error()
    sweep = ("ask", "--endpoint", "http://x/v1", "--sweep", "temperature=0,1", "hi")
    assert "--sweep runs on the local engine" in run_cli(*sweep).one_error()


@pytest.mark.parametrize("text, detail", [("", ": empty"), ("params: {top_k: 5}\n", "'name'")])
def test_an_empty_or_nameless_preset_file_stops_ask_and_run(run_cli, tmp_path, text, detail):
    path = tmp_path / "mine.yaml"
    path.write_text(text, encoding="utf-8")
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"prompt": "hi"}\n', encoding="utf-8")
    for args in (("ask", "--preset", str(path), "hi"), ("run", "-p", str(path), str(jobs))):
        msg = run_cli(*args).one_error()
        assert msg.startswith(f"preset file {path}") and detail in msg


def test_unknown_preset_on_ask(run_cli):
    assert "unknown preset 'nosuch'" in run_cli("ask", "-p", "nosuch", "hi").one_error()


# --- params, presets, --version ---------------------------------------------------------------


def test_params_explain_typo(run_cli):
    msg = run_cli("params", "explain", "temprature").one_error()
    assert "unknown parameter 'temprature'" in msg and "did you mean temperature?" in msg


def test_params_explain_dashed_name(run_cli):
    r = run_cli("params", "explain", "top-p")
    assert r.code == 0, r.err
    assert "top_p" in r.out and "a number from 0 to 1" in r.out


MAX_TOKENS_DEFAULT = (
    "model-dependent (unset: until the model ends the reply or the context is full)"
)


def test_params_explain_max_tokens_default_is_the_references_word(run_cli):
    r = run_cli("params", "explain", "max_tokens")
    assert r.code == 0, r.err
    line = next(ln for ln in r.out.splitlines() if "default" in ln)
    assert " ".join(line.strip("│ ").split()) == f"default {MAX_TOKENS_DEFAULT}"
    assert "not set" not in line


def test_params_list_defaults(run_cli):
    r = run_cli("params", "list")
    rows: dict[str, str] = {}
    name = ""
    for ln in r.out.splitlines():  # a cell that wraps goes on in the rows below
        cells = [c.strip() for c in ln.split("│")]
        if len(cells) == 7:
            name = cells[1] or name
            rows[name] = f"{rows.get(name, '')} {cells[4]}".strip()
    assert rows["max_tokens"] == MAX_TOKENS_DEFAULT
    assert rows["temperature"] == "0.7" and rows["top_k"] == "not set"
    assert rows["response_format"] == '{"type": "text"}'


def test_params_list_has_all_eighteen(run_cli):
    r = run_cli("params", "list")
    assert r.code == 0, r.err
    assert len(PARAM_NAMES) == 18
    for name in PARAM_NAMES:
        assert name in r.out, name


def test_presets_show_unknown(run_cli):
    msg = run_cli("presets", "show", "nosuch").one_error()
    assert "unknown preset 'nosuch'" in msg and "known: " in msg


def test_presets_show_builtin(run_cli):
    r = run_cli("presets", "show", "code")
    assert r.code == 0 and "code.yaml" in r.out


# What --help shows after each option that takes a value: what a person types.
METAVARS = {
    "--model": "MODEL", "--preset": "NAME|FILE", "--temperature": "NUMBER",
    "--top-p": "NUMBER", "--top-k": "INTEGER", "--min-p": "NUMBER", "--seed": "INTEGER",
    "--max-tokens": "INTEGER", "--stop": "TEXT", "--frequency-penalty": "NUMBER",
    "--presence-penalty": "NUMBER", "--repetition-penalty": "NUMBER",
    "--response-format": "text|json_object", "--json-schema": "FILE", "--tools": "FILE",
    "--tool-choice": "auto|none|required|NAME", "--tier": "standard|turbo",
    "--ctx": "INTEGER", "--threads": "INTEGER", "--gpu-layers": "INTEGER",
    "--repack": "auto|on|off", "--endpoint": "URL", "--api-key": "TEXT",
}  # fmt: skip


def help_metavars(text: str) -> dict[str, str]:
    """--help's rows as {long option: what it shows after the option names}."""
    out = {}
    for line in text.splitlines():
        words = line.strip("│ ").split()
        if words and words[0].startswith("--"):
            rest = [w for w in words[1:] if not w.startswith("-")]
            out[words[0]] = rest[0] if rest else ""
    return out


OWN_METAVARS = {
    "ask": {"--system": "TEXT"},
    "run": {"--output": "FILE", "--parallel": "INTEGER"},
    "bench": {"--model": "MODEL", "--ctx": "INTEGER", "--threads": "INTEGER",
              "--gpu-layers": "INTEGER", "--repack": "auto|on|off"},
    "params explain": {"--demo": "PROMPT"},
}  # fmt: skip


@pytest.mark.parametrize("command", list(OWN_METAVARS))
def test_help_shows_what_a_person_types(run_cli, command):
    r = run_cli(*command.split(), "--help")
    assert r.code == 0, r.err
    shown = help_metavars(r.out)
    common = METAVARS if command in ("ask", "run") else {}
    for option, metavar in {**common, **OWN_METAVARS[command]}.items():
        assert shown.get(option) == metavar, (option, shown.get(option))
    for option, value in shown.items():  # a flag has no value: Typer shows <bool>, as for --help
        assert not value.startswith("<") or value == "<bool>", (option, value)


def test_version(run_cli):
    r = run_cli("--version")
    assert r.code == 0 and r.out.strip() == f"oruel {__version__}"


# --- the installed script, as a user runs it --------------------------------------------------


def oruel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ORUEL), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        timeout=120,
    )


@pytest.mark.parametrize(
    "args, detail",
    [
        (("-t", "5"), "invalid temperature '5' (allowed: a number from 0 to 2)"),
        (("--top-p", "nan"), "invalid top_p 'nan' (allowed: a number from 0 to 1)"),
        (("--tool-choice", "required"), "invalid tool_choice 'required': it needs tools"),
        (("--threads", "x"), "invalid --threads 'x'"),
    ],
)
def test_script_usage_error(tmp_path, args, detail):
    # A missing model file is exit 1: a 2 here means the check ran before any load.
    p = oruel("ask", "-m", str(tmp_path / "missing.gguf"), *args, "hi")
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("oruel: error: "), p.stderr
    assert detail in lines[0]


@pytest.mark.parametrize(
    "args, detail",
    [
        (("--temprature", "1", "hi"), "oruel: error: no such option"),
        (("hi", "--top-k"), "requires an argument"),
    ],
)
def test_script_parser_errors(tmp_path, args, detail):
    p = oruel("ask", "-m", str(tmp_path / "missing.gguf"), *args)
    assert p.returncode == 2, p.stderr
    assert detail in p.stderr and "Traceback" not in p.stderr


def test_script_params_explain_typo():
    p = oruel("params", "explain", "temprature")
    assert p.returncode == 2 and "did you mean temperature" in p.stderr
    assert "Traceback" not in p.stderr


def test_script_version():
    p = oruel("--version")
    assert p.returncode == 0 and p.stdout.strip() == f"oruel {__version__}"
