"""Bad input to `params explain --demo`, without a model: a bad `--values`
entry is exit 2 with the message its flag gives, before anything loads;
the parameters with no distribution say why and what to run instead; the
card without --demo stays light; the picture fits the terminal."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest
from support.compare_cli import LOADED, cli_runner, one_error

from oruel_cli.cli.compare import split_values
from oruel_cli.errors import UsageError

# -- --demo --values ---------------------------------------------------------------------


@pytest.fixture
def run_cli(monkeypatch, capsys, isolated_env):
    return cli_runner(monkeypatch, capsys, isolated_env)


@pytest.mark.parametrize(
    "name, flag, values",
    [
        ("top_k", ["--top-k", "abc"], "1,abc"),
        ("top_k", ["--top-k", "201"], "201"),
        ("temperature", ["-t", "-1"], "0.5,-1"),
        ("min_p", ["--min-p", "inf"], "inf"),
        ("repetition_penalty", ["--repetition-penalty", "0"], "1.1,0"),
        ("max_tokens", ["--max-tokens", "1e3"], "1e3"),
        ("stop", ["--stop", "x" * 300], "x" * 300),
        ("response_format", ["--response-format", "json_schema"], "json_schema"),
    ],
)
def test_a_bad_values_entry_gets_the_flags_own_message(run_cli, name, flag, values):
    by_flag = one_error(run_cli("ask", *flag, "hi"))
    demo = run_cli("params", "explain", name, "--demo", "hi", "--values", values)
    assert one_error(demo) == by_flag


@pytest.mark.parametrize(
    "args, words",
    [
        (["params", "explain", "temprature", "--demo", "hi"], "did you mean temperature"),
        (["params", "explain", "top_k", "--values", "1,2"], "go with --demo"),
        (["params", "explain", "top_k", "--demo", "hi", "--values", "1,,2"], "empty value"),
        (["params", "explain", "top_k", "--demo", "hi", "--values", "1,2,3,4,5,6,7,8,9"],
         "at most 8"),
        (["params", "explain", "top_k", "--demo", "hi", "--preset", "nosuch"], "nosuch"),
        (["params", "explain", "top_k", "--demo", "hi", "--top-p", "2"], "top_p"),
    ],
)  # fmt: skip
def test_bad_demo_input_is_one_message(run_cli, args, words):
    assert words in one_error(run_cli(*args))


def test_good_demo_values_get_to_the_model_load(run_cli):
    for name, values in (("top_p", "0.5,0.9"), ("stop", "\\n,."), ("seed", "1,1")):
        code, _, err = run_cli("params", "explain", name, "--demo", "hi", "--values", values)
        assert code == LOADED, err


@pytest.mark.parametrize("name", ["stream", "tools", "tool_choice", "tier"])
def test_parameters_without_a_distribution_say_why_and_what_to_run(run_cli, name):
    code, out, err = run_cli("params", "explain", name, "--demo", "Name a fruit.")
    assert code == 0, err  # no model was needed
    assert "no distribution to draw" in out and "oruel ask" in out
    code, out, _ = run_cli("params", "explain", name, "--demo", "hi", "--output-json")
    obj = json.loads(out)
    assert obj["demo"] is None and obj["why"] and obj["commands"]


def test_tier_values_go_into_the_command_to_run(run_cli):
    _, out, _ = run_cli("params", "explain", "tier", "--demo", "hi", "--values", "turbo")
    assert "--sweep tier=turbo" in out


def test_params_explain_stays_light():
    """The card (no --demo) never imports llama_cpp or the demo's engine code."""
    code = (
        "import sys; from oruel_cli.cli.main import main; "
        "sys.argv = ['oruel', 'params', 'explain', 'top_k']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('llama_cpp', 'oruel_cli.engine', 'oruel_cli.demo.compute', "
        "'oruel_cli.demo.draw', 'oruel_cli.sweep.run') if m in sys.modules]\n"
        "sys.__stderr__.write('HEAVY=' + ','.join(heavy))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY=" in p.stderr and p.stderr.split("HEAVY=")[1].strip() == "", p.stderr


def test_split_values_escapes():
    assert split_values("0,0.5,1", "x") == ["0", "0.5", "1"]
    assert split_values("\\n,\\,,a\\\\b,C:\\x", "x") == ["\n", ",", "a\\b", "C:\\x"]
    with pytest.raises(UsageError):
        split_values("1,", "x")


def _distribution_result(width_values: int) -> dict:
    rows = [
        {"id": i, "text": t, "p_before": p, "p_after": p * 2 if i < 2 else 0.0, "kept": i < 2}
        for i, (t, p) in enumerate([(" Rome", 0.4), ("Il", 0.1), ("\n", 0.05)])
    ]
    pic = {"value": 0.5, "stage": "top_p", "before": ["temperature 0.7"], "rows": rows,
           "kept": 2, "kept_mass": 0.5, "before_kept": 49152, "selected": None,
           "n_vocab": 49152}  # fmt: skip
    return {"kind": "distribution", "parameter": "top_p", "prompt": "p", "model": "m",
            "values": [0.5] * width_values, "pictures": [pic] * width_values,
            "cut_after_temperature": 0.7,
            "temperature": {"value": 0.7, "source": "default"}}  # fmt: skip


@pytest.mark.parametrize("width", [60, 80, 160])
@pytest.mark.parametrize("n", [1, 4, 8])
def test_the_distribution_picture_fits_the_terminal(width, n):
    from rich.console import Console

    from oruel_cli.demo.draw import picture

    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    picture(_distribution_result(n), console)
    lines = console.export_text().splitlines()
    assert all(len(line) <= width for line in lines), max(map(len, lines))
    text = "\n".join(lines)
    assert text.count("top_p 0.5") == n  # every value has its column, in one table or more
    assert "␣Rome" in text and "↵" in text and "cut" in text


def _penalty_result(values: list[float]) -> dict:
    rows = [
        {"text": t, "count": c, "logit_before": 11.62, "logit_after": 11.62 / values[0],
         "formula": "11.62 / v"}
        for t, c in ((" a", 3), (" of", 2), (" cultures", 2), (" feline", 1))
    ]  # fmt: skip
    pics = [{"value": v, "rows": rows, "next_before_text": " freedom", "next_after_text": " freedom"}
            for v in values]  # fmt: skip
    return {"kind": "penalty", "parameter": "repetition_penalty", "prompt": "p", "model": "m",
            "values": values, "pictures": pics,
            "prefix": {"tokens": [1, 2, 3], "text": "The cat is a cat"}}  # fmt: skip


def _drawn(result: dict, width: int) -> list[str]:
    from rich.console import Console

    from oruel_cli.demo.draw import picture

    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    picture(result, console)
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [80, 100])
def test_the_penalty_headers_name_each_value_whole(width):
    lines = _drawn(_penalty_result([1.1, 1.3, 1.5]), width)
    assert all(len(line) <= width for line in lines)
    header = next(ln for ln in lines if ln.startswith("token"))
    assert "…" not in header, header
    for v in ("1.1", "1.3", "1.5"):
        assert re.search(rf"(^|\s){re.escape(v)}(\s|$)", header.split("logit", 1)[1]), header


def test_the_temperature_headers_say_which_column_is_raw():
    rows = [{"id": 0, "text": "I", "p_before": 0.5, "p_after": 0.5, "kept": True}]
    pics = [{"value": v, "stage": "greedy" if v == 0 else "temperature", "before": [],
             "rows": rows, "kept": 1, "kept_mass": 1.0, "n_vocab": 10}
            for v in (0.0, 1.0, 1.5)]  # fmt: skip
    result = {"kind": "distribution", "parameter": "temperature", "prompt": "p", "model": "m",
              "values": [0.0, 1.0, 1.5], "pictures": pics}  # fmt: skip
    header = next(ln for ln in _drawn(result, 80) if ln.startswith("token")).split()
    assert header == ["token", "raw", "T", "0", "greedy", "T", "1", "(=", "raw)", "T", "1.5"]
