"""Where a parameter's value comes from: default < config < preset <
flag < line, each effective value remembering its source; a batch line's preset
replaces the job's; the system prompt from one place; tier profiles from the config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import oruel_cli.params.layering as resolve_mod
from oruel_cli.config import Config
from oruel_cli.errors import UsageError
from oruel_cli.params.layering import SOURCES, Layer, ParamResolver, make_layer, merge
from oruel_cli.params.model import PARAM_NAMES

MINE = """\
name: mine
description: a user preset for the tests
params:
  temperature: 0.3
  top_p: 0.7
  top_k: 20
  max_tokens: 100
system: You are the mine preset.
"""

OTHER = """\
name: other
description: another user preset
params:
  top_k: 5
  temperature: 1.5
system: You are the other preset.
"""


@pytest.fixture
def presets(isolated_env: Path) -> Path:
    """User presets 'mine' and 'other' in the config folder's presets/."""
    folder = isolated_env / "presets"
    folder.mkdir()
    (folder / "mine.yaml").write_text(MINE, encoding="utf-8")
    (folder / "other.yaml").write_text(OTHER, encoding="utf-8")
    return folder


def config(**data: Any) -> Config:
    return Config.model_validate(data)


def line_of(lines: list[str], name: str) -> str:
    (found,) = [ln for ln in lines if ln.startswith(f"{name} = ")]
    return found


# --- merge itself -------------------------------------------------------------------


def test_sources_in_order():
    assert SOURCES == ("default", "config", "preset", "conversation", "flag", "line")


def test_merge_sorts_layers_by_source_not_by_list_order():
    layers = [
        Layer("line", {"temperature": 0.5}),
        Layer("flag", {"temperature": 0.4, "top_p": 0.6}),
        Layer("preset", {"temperature": 0.3, "top_p": 0.7, "top_k": 20}, "mine"),
        Layer("config", {"temperature": 0.2, "top_p": 0.8, "top_k": 10, "min_p": 0.01}),
    ]
    eff = merge(layers)
    p = eff.params
    assert (p.temperature, p.top_p, p.top_k, p.min_p) == (0.5, 0.6, 20, 0.01)
    assert eff.sources == {
        "temperature": "line",
        "top_p": "flag",
        "top_k": "preset mine",
        "min_p": "config",
    }


def test_effective_lines_one_per_parameter_with_source():
    eff = merge(
        [
            Layer("config", {"min_p": 0.05}),
            Layer("preset", {"stop": ["```"], "top_k": 20}, "code"),
            Layer("flag", {"seed": 42}),
            Layer("line", {"temperature": 0}),
        ]
    )
    lines = eff.lines()
    assert [ln.split(" = ")[0] for ln in lines] == list(PARAM_NAMES)
    assert line_of(lines, "temperature") == "temperature = 0.0 (line)"
    assert line_of(lines, "seed") == "seed = 42 (flag)"
    assert line_of(lines, "stop") == 'stop = ["```"] (preset code)'
    assert line_of(lines, "top_k") == "top_k = 20 (preset code)"
    assert line_of(lines, "min_p") == "min_p = 0.05 (config)"
    assert line_of(lines, "top_p") == "top_p = 1.0 (default)"
    assert line_of(lines, "max_tokens") == "max_tokens = not set (default)"
    assert line_of(lines, "tier") == "tier = 'standard' (default)"
    assert eff.set_values()["seed"] == 42 and "max_tokens" not in eff.set_values()


def test_make_layer_validates_alone_naming_its_input():
    with pytest.raises(UsageError) as info:
        make_layer("line", {"temperature": 9}, where="line 3: ")
    assert str(info.value).startswith("line 3: invalid temperature 9")
    with pytest.raises(UsageError):
        make_layer("flag", {"temprature": 1})


def test_merged_request_checked_as_a_whole():
    """tools from one layer and tool_choice from another make a valid request."""
    tools = [{"type": "function", "function": {"name": "f"}}]
    eff = merge(
        [Layer("preset", {"tools": tools}, "p"), Layer("flag", {"tool_choice": "required"})]
    )
    assert eff.sources == {"tools": "preset p", "tool_choice": "flag"}
    with pytest.raises(UsageError, match="needs tools"):
        merge([Layer("flag", {"tool_choice": "required"})])


# --- ParamResolver --------------------------------------------------------------------


def test_nothing_given_is_all_defaults():
    r = ParamResolver(Config(), None, {}).resolve()
    assert r.preset is None and r.system is None
    assert r.effective.sources == {}
    assert all(ln.endswith("(default)") for ln in r.effective.lines())
    assert r.params.temperature == 0.7


def test_full_stack_default_config_preset_flag_line(presets):
    cfg = config(params={"temperature": 0.2, "top_p": 0.8, "top_k": 10, "min_p": 0.01, "seed": 1})
    res = ParamResolver(cfg, "mine", {"temperature": 0.4, "top_p": 0.6, "seed": 7})
    r = res.resolve(line={"temperature": 0.5})
    p, src = r.params, r.effective.sources
    assert (p.temperature, src["temperature"]) == (0.5, "line")
    assert (p.top_p, src["top_p"]) == (0.6, "flag")
    assert (p.seed, src["seed"]) == (7, "flag")
    assert (p.top_k, src["top_k"]) == (20, "preset mine")
    assert (p.max_tokens, src["max_tokens"]) == (100, "preset mine")
    assert (p.min_p, src["min_p"]) == (0.01, "config")
    assert "frequency_penalty" not in src and p.frequency_penalty == 0
    lines = r.effective.lines()
    assert line_of(lines, "temperature") == "temperature = 0.5 (line)"
    assert line_of(lines, "top_p") == "top_p = 0.6 (flag)"
    assert line_of(lines, "top_k") == "top_k = 20 (preset mine)"
    assert line_of(lines, "min_p") == "min_p = 0.01 (config)"
    assert line_of(lines, "frequency_penalty") == "frequency_penalty = 0.0 (default)"
    # Without the line, the flag is the top.
    r = res.resolve()
    assert (r.params.temperature, r.effective.sources["temperature"]) == (0.4, "flag")


def test_each_layer_alone_beats_the_one_below(presets):
    cfg = config(params={"temperature": 0.2})
    assert ParamResolver(cfg, None, {}).resolve().effective.sources["temperature"] == "config"
    r = ParamResolver(cfg, "mine", {}).resolve()
    assert (r.params.temperature, r.effective.sources["temperature"]) == (0.3, "preset mine")
    r = ParamResolver(cfg, "mine", {"temperature": 1.0}).resolve()
    assert (r.params.temperature, r.effective.sources["temperature"]) == (1.0, "flag")
    r = ParamResolver(cfg, "mine", {"temperature": 1.0}).resolve(line={"temperature": 0})
    assert (r.params.temperature, r.effective.sources["temperature"]) == (0.0, "line")


def test_config_preset_is_the_default_preset(presets):
    cfg = config(preset="mine")
    r = ParamResolver(cfg, None, {}).resolve()
    assert r.preset.name == "mine" and r.effective.sources["top_k"] == "preset mine"
    r = ParamResolver(cfg, "other", {}).resolve()
    assert r.preset.name == "other" and r.params.top_k == 5
    assert r.params.max_tokens is None  # mine's max_tokens is not layered under other's


def test_builtin_preset_source_label():
    r = ParamResolver(Config(), "code", {}).resolve()
    assert r.params.stop == ["```"]
    assert r.effective.sources["stop"] == "preset code"


def test_line_preset_replaces_the_job_preset(presets):
    res = ParamResolver(config(params={"min_p": 0.1}), "mine", {"temperature": 0.9})
    r = res.resolve(line_preset="other")
    p, src = r.params, r.effective.sources
    assert r.preset.name == "other"
    assert (p.top_k, src["top_k"]) == (5, "preset other")  # the line's preset
    assert p.max_tokens is None and "max_tokens" not in src  # not mine's 100
    assert p.top_p == 1.0 and "top_p" not in src  # not mine's 0.7
    assert (p.temperature, src["temperature"]) == (0.9, "flag")  # flags still win
    assert (p.min_p, src["min_p"]) == (0.1, "config")
    # The line's own fields win over both.
    r = res.resolve(line={"temperature": 0.1, "top_k": 50}, line_preset="other")
    assert (r.params.temperature, r.effective.sources["temperature"]) == (0.1, "line")
    assert (r.params.top_k, r.effective.sources["top_k"]) == (50, "line")
    # Other lines keep the job preset.
    r = res.resolve(line={"seed": 3})
    assert r.preset.name == "mine" and r.effective.sources["max_tokens"] == "preset mine"


def test_line_preset_without_job_preset(presets):
    r = ParamResolver(Config(), None, {}).resolve(line_preset="other")
    assert r.effective.sources["top_k"] == "preset other"


def test_presets_are_read_once(presets, monkeypatch):
    calls: list[str] = []
    real = resolve_mod.load_preset

    def counting(name: str):
        calls.append(name)
        return real(name)

    monkeypatch.setattr(resolve_mod, "load_preset", counting)
    res = ParamResolver(Config(), "mine", {})
    for i in range(50):
        res.resolve(line={"seed": i}, line_preset="other" if i % 2 else None)
    assert sorted(calls) == ["mine", "other"]


def test_bad_inputs_fail_when_the_resolver_is_built(presets):
    with pytest.raises(UsageError, match="unknown preset 'nosuch'"):
        ParamResolver(Config(), "nosuch", {})
    with pytest.raises(UsageError, match="invalid top_p 3"):
        ParamResolver(Config(), None, {"top_p": 3})
    res = ParamResolver(Config(), None, {})
    with pytest.raises(UsageError, match="unknown preset 'nope'"):
        res.resolve(line_preset="nope")
    with pytest.raises(UsageError, match="invalid max_tokens 0"):
        res.resolve(line={"max_tokens": 0})
    with pytest.raises(UsageError, match="did you mean temperature"):
        res.resolve(line={"temprature": 0})


def test_bad_user_preset_names_file_and_key(presets):
    (presets / "broken.yaml").write_text("name: broken\nparams:\n  top_k: 1000\n", encoding="utf-8")
    with pytest.raises(UsageError) as info:
        ParamResolver(Config(), "broken", {})
    assert "broken.yaml" in str(info.value) and "top_k" in str(info.value)


def test_tool_choice_flag_with_tools_from_the_preset(presets):
    (presets / "tooled.yaml").write_text(
        "name: tooled\nparams:\n  tools:\n    - type: function\n      function: {name: lookup}\n",
        encoding="utf-8",
    )
    r = ParamResolver(Config(), "tooled", {"tool_choice": "required"}).resolve()
    assert r.params.tool_choice == "required" and r.effective.sources["tools"] == "preset tooled"
    with pytest.raises(UsageError, match="needs tools"):
        ParamResolver(Config(), None, {"tool_choice": "required"}).resolve()


# --- the system prompt ---------------------------------------------------------------


def test_system_prompt_precedence(presets):
    res = ParamResolver(Config(), "mine", {}, system_flag="From the flag.")
    assert res.resolve(line_system="From the line.").system == "From the line."
    assert res.resolve().system == "From the flag."
    assert ParamResolver(Config(), "mine", {}).resolve().system == "You are the mine preset."
    # A line's preset brings its own system prompt, below --system and the line's.
    assert ParamResolver(Config(), "mine", {}).resolve(line_preset="other").system == (
        "You are the other preset."
    )
    assert res.resolve(line_preset="other").system == "From the flag."
    assert ParamResolver(Config(), None, {}).resolve().system is None


# --- tier profiles --------------------------------------------------------------------

TIERED = {
    "params": {"temperature": 0.6, "top_k": 3},
    "tiers": {"turbo": {"params": {"max_tokens": 512, "top_k": 7}}, "standard": {}},
}


def test_standard_tier_uses_config_params_only():
    r = ParamResolver(config(**TIERED), None, {}).resolve()
    assert r.params.tier == "standard"
    assert (r.params.top_k, r.effective.sources["top_k"]) == (3, "config")
    assert r.params.max_tokens is None


def test_turbo_tier_profile_params_in_the_config_layer():
    r = ParamResolver(config(**TIERED), None, {"tier": "turbo"}).resolve()
    p, src = r.params, r.effective.sources
    assert (p.tier, src["tier"]) == ("turbo", "flag")
    assert (p.max_tokens, src["max_tokens"]) == (512, "config tier turbo")
    assert (p.top_k, src["top_k"]) == (7, "config tier turbo")
    # A config param the profile does not set keeps its plain "config" source.
    assert (p.temperature, src["temperature"]) == (0.6, "config")


def test_turbo_profile_params_sit_below_preset_flag_and_line(presets):
    res = ParamResolver(config(**TIERED), "mine", {"tier": "turbo"})
    r = res.resolve()
    assert (r.params.max_tokens, r.effective.sources["max_tokens"]) == (100, "preset mine")
    assert (r.params.top_k, r.effective.sources["top_k"]) == (20, "preset mine")
    res = ParamResolver(config(**TIERED), None, {"tier": "turbo", "max_tokens": 64})
    assert res.resolve().params.max_tokens == 64
    assert res.resolve(line={"max_tokens": 8}).params.max_tokens == 8


def test_tier_chosen_by_a_line_or_a_preset(presets):
    res = ParamResolver(config(**TIERED), None, {})
    r = res.resolve(line={"tier": "turbo"})
    assert (r.params.max_tokens, r.effective.sources["max_tokens"]) == (512, "config tier turbo")
    assert res.resolve().params.max_tokens is None  # the next line is standard again
    (presets / "fast.yaml").write_text("name: fast\nparams:\n  tier: turbo\n", encoding="utf-8")
    r = ParamResolver(config(**TIERED), "fast", {}).resolve()
    assert r.params.tier == "turbo" and r.params.max_tokens == 512
