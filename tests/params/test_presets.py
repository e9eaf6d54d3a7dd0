"""Presets: the nine built-ins match the reference's use-case table; user presets
shadow and extend them; a bad preset file is a usage error naming file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oruel_cli.errors import UsageError
from oruel_cli.presets import all_presets, builtin_dir, load_preset, preset_names

# The reference's use-case table (the last table of the Oru'el "Inference
# Parameters" page), row by row: name -> (temperature low, high), top_p,
# max_tokens, the "Other" column. In the page's text the cells run together
# ("Summarization0.3 - 0.50.951024"), read as a range, a top_p in 0..1 and a
# max_tokens that is a power of two or 10 (classification's label): 0.95 and
# 1024 there, not 0.9 and 51024; Q&A's "0 - 0.30.9512" is 0.9 and 512, not 0.95
# and 12 (which would cut every factual answer at 12 tokens).
REFERENCE: dict[str, tuple[tuple[float, float], float, int, dict[str, Any]]] = {
    "code": ((0, 0.2), 0.95, 2048, {"stop": ["```"]}),
    "creative": ((0.8, 1.2), 1.0, 4096, {"frequency_penalty": 0.5}),
    "extraction": ((0, 0), 1.0, 1024, {"response_format": {"type": "json_object"}}),
    "qa": ((0, 0.3), 0.9, 512, {}),
    "summarization": ((0.3, 0.5), 0.95, 1024, {}),
    "translation": ((0, 0.2), 1.0, 2048, {}),
    "brainstorming": ((1.0, 1.5), 1.0, 2048, {"presence_penalty": 0.8}),
    "chatbot": ((0.5, 0.7), 0.9, 1024, {"frequency_penalty": 0.3}),
    "classification": ((0, 0), 1.0, 10, {}),
}


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty config folder, so the developer's own presets never leak in."""
    monkeypatch.setenv("ORUEL_CONFIG", str(tmp_path / "config.yaml"))
    return tmp_path


def user_preset(config_home: Path, filename: str, text: str) -> Path:
    folder = config_home / "presets"
    folder.mkdir(exist_ok=True)
    path = folder / filename
    path.write_text(text, encoding="utf-8")
    return path


def usage_error(name_or_file: str) -> str:
    with pytest.raises(UsageError) as info:
        load_preset(name_or_file)
    assert info.value.exit_code == 2
    return str(info.value)


# --- the built-ins ------------------------------------------------------------


def test_the_nine_builtins_ship():
    assert sorted(p.stem for p in builtin_dir().glob("*.yaml")) == sorted(REFERENCE)
    assert preset_names() == sorted(REFERENCE)
    assert [p.name for p in all_presets()] == sorted(REFERENCE)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_builtin_matches_the_reference_row(name):
    (low, high), top_p, max_tokens, other = REFERENCE[name]
    preset = load_preset(name)
    params = preset.params

    assert preset.name == name
    assert preset.description.strip()
    assert Path(preset.path).parent == builtin_dir()
    assert set(params) == {"temperature", "top_p", "max_tokens", *other}
    assert low <= params["temperature"] <= high
    assert params["top_p"] == top_p
    assert params["max_tokens"] == max_tokens
    for key, value in other.items():
        assert params[key] == value, f"{name}: {key}"


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_recommended_is_the_reference_range_and_holds_the_value(name):
    (low, high), *_ = REFERENCE[name]
    preset = load_preset(name)
    if low < high:
        assert preset.recommended == {"temperature": [low, high]}
    else:
        assert "temperature" not in preset.recommended
    for param, (lo, hi) in preset.recommended.items():
        assert lo <= preset.params[param] <= hi, f"{name}: {param} outside {lo}..{hi}"


def test_system_prompts():
    assert "json" in load_preset("extraction").system.lower()  # JSON mode needs it
    code = load_preset("code").system.lower()
    assert "fence" in code  # the code alone, so stop ``` ends the reply, not its start
    assert "label" in load_preset("classification").system.lower()
    for preset in all_presets():
        assert preset.system is None or preset.system.strip(), preset.name


# --- user presets ---------------------------------------------------------------


def test_user_preset_shadows_a_builtin_and_adds_one(config_home):
    mine = user_preset(
        config_home, "code.yaml", "name: code\ndescription: mine\nparams:\n  temperature: 0.5\n"
    )
    user_preset(
        config_home, "haiku.yml", "name: haiku\nparams:\n  temperature: 1.1\n  max_tokens: 40\n"
    )

    code = load_preset("code")
    assert code.params == {"temperature": 0.5}
    assert code.description == "mine"
    assert code.path == str(mine)

    haiku = load_preset("haiku")
    assert haiku.name == "haiku"
    assert haiku.params == {"temperature": 1.1, "max_tokens": 40}
    assert preset_names() == sorted([*REFERENCE, "haiku"])


def test_preset_by_file_path(tmp_path):
    path = tmp_path / "elsewhere" / "terse.yaml"
    path.parent.mkdir()
    path.write_text("name: terse\nparams:\n  max_tokens: 64\n", encoding="utf-8")
    assert load_preset(str(path)).params == {"max_tokens": 64}
    assert "not found" in usage_error(str(tmp_path / "missing.yaml"))


# --- bad files: exit 2, naming the file and the key ------------------------------


def test_unknown_top_level_key(config_home):
    path = user_preset(config_home, "bad.yaml", "name: bad\ncolour: red\n")
    message = usage_error("bad")
    assert str(path) in message
    assert "colour" in message


def test_unknown_parameter_inside_params(config_home):
    path = user_preset(config_home, "bad.yaml", "name: bad\nparams:\n  temprature: 0.5\n")
    message = usage_error("bad")
    assert "temprature" in message
    assert str(path) in message


def test_unknown_parameter_inside_params_is_refused(config_home):
    user_preset(config_home, "bad.yaml", "name: bad\nparams:\n  temprature: 0.5\n")
    message = usage_error("bad")
    assert "temprature" in message
    assert "did you mean temperature" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("params:\n  temperature: 3\n", "temperature"),
        ("params:\n  temperature: '0.5'\n", "temperature"),  # strict: a string is no number
        ("params:\n  top_p: .nan\n", "top_p"),
        ("params:\n  max_tokens: 0\n", "max_tokens"),
        ("params:\n  stop: [a, b, c, d, e]\n", "stop"),
        ("params:\n  response_format: {type: xml}\n", "response_format"),
        ("params: [temperature]\n", "params"),
        ("system: 42\n", "system"),
        ("recommended:\n  temperature: [0.5, 0.1]\n", "recommended.temperature"),
        ("", "name"),  # the name line alone below: name: bad, nothing else is fine
    ],
)
def test_bad_value(config_home, text, key):
    path = user_preset(config_home, "bad.yaml", f"name: bad\n{text}")
    if not text:
        assert load_preset(str(path)).params == {}
        return
    message = usage_error(str(path))
    assert str(path) in message
    assert key in message


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\xff\xd8", b"name: caf\xe9\n"])
def test_a_file_that_is_not_utf8(config_home, data):
    path = config_home / "binary.yaml"
    path.write_bytes(data)
    message = usage_error(str(path))
    assert message.startswith(f"preset file {path}: ")
    assert "not UTF-8 YAML text" in message


def test_malformed_yaml(config_home):
    path = user_preset(config_home, "bad.yaml", "name: bad\nparams:\n  temperature: [0.5\n")
    message = usage_error("bad")
    assert str(path) in message
    assert "YAML" in message and "line" in message


@pytest.mark.parametrize("text", ["", "\n", "# nothing but a comment\n", "---\n", "~\n"])
def test_an_empty_preset_file_is_refused(config_home, text):
    """An empty file is no preset: refused, naming the file (an empty config is fine)."""
    path = config_home / "empty.yaml"
    path.write_text(text, encoding="utf-8")
    message = usage_error(str(path))
    assert message.startswith(f"preset file {path}: empty")
    assert "name" in message
    user_preset(config_home, "blank.yaml", text)
    assert usage_error("blank").startswith(
        f"preset file {config_home / 'presets' / 'blank.yaml'}: "
    )


@pytest.mark.parametrize("text", ["{}\n", "params:\n  temperature: 0.5\n", "description: x\n"])
def test_a_preset_file_without_its_name_is_refused(config_home, text):
    path = config_home / "noname.yaml"
    path.write_text(text, encoding="utf-8")
    message = usage_error(str(path))
    assert message.startswith(f"preset file {path}: ")
    assert "'name'" in message


@pytest.mark.parametrize("text", ["name: ''\n", "name: 42\n", "name: [a]\n"])
def test_a_preset_name_must_be_a_non_empty_string(config_home, text):
    path = config_home / "badname.yaml"
    path.write_text(text, encoding="utf-8")
    message = usage_error(str(path))
    assert message.startswith(f"preset file {path}: ") and "name" in message


@pytest.mark.parametrize("text", ["- temperature\n- 0.5\n", "just words\n", "42\n"])
def test_top_level_not_a_mapping(config_home, text):
    path = user_preset(config_home, "bad.yaml", text)
    message = usage_error("bad")
    assert str(path) in message
    assert "mapping" in message


def test_unknown_name_lists_the_known_ones_and_suggests(config_home):
    message = usage_error("creativ")
    assert "'creativ'" in message
    assert "did you mean creative?" in message
    for name in REFERENCE:
        assert name in message
    assert "did you mean" not in usage_error("zzzz")


# --- presets list: a bad file is left out, with a warning ------------------------


def test_presets_list_shows_the_valid_ones_and_warns_once_per_bad_file(
    config_home, monkeypatch, capsys
):
    from support.cli_inproc import in_process_cli

    bad = user_preset(config_home, "broken.yaml", "name: broken\nparams:\n  temperature: 9\n")
    typo = user_preset(config_home, "typo.yaml", "name: typo\nparms: {}\n")
    user_preset(config_home, "haiku.yaml", "name: haiku\nparams:\n  max_tokens: 40\n")
    cli = in_process_cli(monkeypatch, capsys, columns=200)

    def run(*args: str) -> tuple[int | str | None, str, str]:
        r = cli("presets", *args)
        return r.code, r.out, r.err

    code, out, err = run("list")
    assert code == 0, err
    for name in [*REFERENCE, "haiku"]:
        assert f"│ {name} " in out, name
    assert "broken" not in out and "typo" not in out
    warnings = err.strip().splitlines()
    assert len(warnings) == 2, err
    assert str(bad) in warnings[0] and "temperature" in warnings[0]
    assert str(typo) in warnings[1] and "parms" in warnings[1]
    assert all(w.startswith("warning: ") for w in warnings)
    code, _, err = run("show", "broken")
    assert code == 2 and str(bad) in err and err.startswith("oruel: error: ")
