"""Bad input to `ask --sweep`, without a model: each is exit 2 with one
message (the one the parameter's own flag gives, for a bad value), no
traceback, and nothing loads. Also the pure parts: the values typed as the
flags type them, the grid, the headings, how the replies are laid out."""

from __future__ import annotations

import io
from typing import Any

import pytest
from support.compare_cli import LOADED, cli_runner, one_error

from oruel_cli.cli.compare import parse_sweep
from oruel_cli.sweep.draw import per_row
from oruel_cli.sweep.plan import MAX_VARIANTS, grid

# -- --sweep ------------------------------------------------------------------------


@pytest.fixture
def run_cli(monkeypatch, capsys, isolated_env):
    return cli_runner(monkeypatch, capsys, isolated_env)


@pytest.mark.parametrize(
    "flag, sweep",
    [
        (["--temperature", "abc"], "temperature=0,abc"),
        (["--temperature", "3"], "temperature=0.5,3"),
        (["--top-k", "1.5"], "top_k=1.5"),
        (["--top-p", "nan"], "top-p=0.9,nan"),
        (["--seed", "x"], "seed=1,x"),
        (["--max-tokens", "0"], "max_tokens=0"),
        (["--response-format", "yaml"], "response_format=text,yaml"),
        (["--tier", "gold"], "tier=gold"),
        (["--tool-choice", "auto"], "tool_choice=auto"),  # no tools given
    ],
)
def test_a_bad_sweep_value_gets_the_flags_own_message(run_cli, flag, sweep):
    by_flag = one_error(run_cli("ask", *flag, "hi"))
    assert one_error(run_cli("ask", "--sweep", sweep, "hi")) == by_flag


@pytest.mark.parametrize(
    "sweep, words",
    [
        ("temperature", "NAME=V1,V2"),
        ("=0,1", "NAME=V1,V2"),
        ("temprature=0,1", "did you mean temperature"),
        ("temperature=", "empty value"),
        ("temperature=0,,1", "empty value"),
        ("preset=code,nosuchpreset", "nosuchpreset"),
    ],
)
def test_a_malformed_sweep_is_one_message(run_cli, sweep, words):
    assert words in one_error(run_cli("ask", "--sweep", sweep, "hi"))


def test_too_many_variants_and_a_name_swept_twice_or_also_a_flag(run_cli):
    many = one_error(run_cli("ask", "--sweep", "top_k=1,2,3,4,5", "--sweep", "seed=1,2,3,4", "hi"))
    assert "5 × 4 = 20 variants" in many and str(MAX_VARIANTS) in many
    twice = one_error(run_cli("ask", "--sweep", "seed=1", "--sweep", "seed=2", "hi"))
    assert "seed" in twice and "twice" in twice
    both = one_error(run_cli("ask", "-t", "0", "--sweep", "temperature=0,1", "hi"))
    assert "temperature" in both and "one place" in both


def test_a_good_sweep_gets_to_the_model_load(run_cli):
    code, _, err = run_cli("ask", "--sweep", "temperature=0,0.7", "--sweep", "preset=code,qa",
                           "--sweep", "stop=\\n,.", "--show-params", "hi")  # fmt: skip
    assert code == LOADED, err
    assert err.count("# variant") == 8 and "parallel = 8" in err
    assert "temperature = 0.7 (sweep)" in err and 'stop = ["\\n"] (sweep)' in err


def test_endpoint_is_refused_with_a_sweep(run_cli):
    msg = one_error(run_cli("ask", "--endpoint", "http://x", "--sweep", "seed=1,2", "hi"))
    assert "--endpoint" in msg


# -- the pure parts ------------------------------------------------------------------


def test_parse_sweep_types_values_as_the_flags_do():
    assert parse_sweep("top-k=1,40") == ("top_k", [1, 40])
    assert parse_sweep("temperature=0,1") == ("temperature", [0.0, 1.0])
    assert parse_sweep("response_format=text,json_object")[1] == [
        {"type": "text"}, {"type": "json_object"}
    ]  # fmt: skip
    assert parse_sweep("tool_choice=none,get_weather")[1][1]["function"]["name"] == "get_weather"
    assert parse_sweep("stop=.,\\n") == ("stop", [["."], ["\n"]])
    assert parse_sweep("stream=true,false") == ("stream", [True, False])
    assert parse_sweep("preset=code,qa") == ("preset", ["code", "qa"])


def test_the_grid_is_every_combination_first_axis_slowest():
    combos = grid([("temperature", [0.0, 1.0]), ("top_p", [0.5, 0.9, 1.0])])
    assert len(combos) == 6
    assert combos[:3] == [{"temperature": 0.0, "top_p": p} for p in (0.5, 0.9, 1.0)]


def test_replies_a_row():
    assert per_row(4, 80) == 1 and per_row(4, 99) == 1  # narrow: one after another
    assert per_row(4, 160) == 4 and per_row(2, 100) == 2
    assert per_row(5, 160) == 3  # 3 + 2, not 4 + 1
    assert per_row(16, 200) == 4  # rows of 4 (200 // 38 = 5 would leave one of 1)


# -- what the screens hold (rendered without a model) ----------------------------------


def _render(renderable: Any, width: int) -> list[str]:
    from rich.console import Console

    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text().splitlines()


def _variants(axes):
    from oruel_cli.config import Config
    from oruel_cli.params.layering import ParamResolver
    from oruel_cli.sweep.plan import plan

    return plan(ParamResolver(Config(), None, {}), axes, {})


def test_sweep_layout_side_by_side_when_wide_one_after_another_when_narrow():
    from rich.text import Text

    from oruel_cli.sweep.draw import layout
    from oruel_cli.sweep.plan import differing

    variants = _variants([("temperature", [0.0, 0.7, 1.2])])
    names = differing(variants)
    bodies = [Text(f"reply number {i} " * 6) for i in range(3)]
    subs = [Text("24 tokens · finish length")] * 3
    wide = _render(layout(variants, names, bodies, subs, 160), 160)
    heads = [line for line in wide if "temperature 0 " in line]
    assert len(heads) == 1 and "temperature 0.7" in heads[0] and "temperature 1.2" in heads[0]
    narrow = _render(layout(variants, names, bodies, subs, 80), 80)
    assert sum("temperature" in line for line in narrow) == 3  # one heading a reply
    assert all(len(line) <= 80 for line in narrow) and all(len(line) <= 160 for line in wide)


def test_a_preset_sweep_heads_each_reply_with_the_preset_then_what_it_sets_apart():
    from oruel_cli.sweep.plan import differing, heading

    variants = _variants([("preset", ["code", "creative"])])
    names = differing(variants)
    assert names.swept == ["preset"] and "temperature" in names.implied
    assert heading(variants[0], names.swept) == "preset code"
    assert "temperature 0" in heading(variants[0], names.implied)
    assert variants[1].effective.sources["temperature"] == "preset creative"
