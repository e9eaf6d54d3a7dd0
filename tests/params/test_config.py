"""The user config (config.yaml): where it is found, a missing file is an
empty config, and every unknown key or bad value is a usage error (exit 2) that
names the file and the key, from the library and from the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from oruel_cli.config import Config, config_dir, config_path, data_dir, load_config
from oruel_cli.errors import UsageError

FULL_EXAMPLE = """\
model: llama-4-maverick          # default model: a path, an alias, a name, or "default"
preset: chatbot                  # default preset
models_dirs: [~/models]          # searched after ORUEL_MODELS_DIR and ./models/
aliases:                         # name -> path (or, for endpoints, the remote model name)
  llama-4-maverick: ~/models/llama-4-maverick-q4_k_m.gguf
params:                          # parameter defaults (the "config" source)
  temperature: 0.6
runtime:                         # RUNTIME defaults
  ctx: 8192
  threads: 2
  gpu_layers: -1
  repack: auto
tiers:                           # tier profiles: model, runtime, params, endpoints
  standard: {}
  turbo: {model: small-fast, params: {max_tokens: 512}}
endpoints:                       # --endpoint defaults, each with an optional key
  - {url: "http://gpu-1:8000/v1", api_key_env: FLEET_KEY, model: meta-llama/Llama-4-Maverick, parallel: 16}
"""

ORUEL = Path(sys.executable).with_name("oruel")


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# Not UTF-8: the start of a PNG file, and Latin-1 text (é as the byte 0xe9).
NOT_UTF8 = [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8", b"model: caf\xe9\n"]


def usage_error(path: Path) -> str:
    with pytest.raises(UsageError) as info:
        load_config(path)
    assert info.value.exit_code == 2
    msg = str(info.value)
    assert msg.startswith(f"config file {path}: "), msg
    assert "\n" not in msg
    return msg


# --- where the config lives --------------------------------------------------------


def test_oruel_config_wins(isolated_env, monkeypatch):
    assert config_path() == isolated_env / "config.yaml"
    assert config_dir() == isolated_env
    monkeypatch.setenv("HOME", str(isolated_env / "home"))
    monkeypatch.setenv("ORUEL_CONFIG", "~/elsewhere/oruel.yaml")
    assert config_path() == isolated_env / "home" / "elsewhere" / "oruel.yaml"


def test_xdg_config_home_then_home(isolated_env, monkeypatch):
    monkeypatch.delenv("ORUEL_CONFIG")
    assert config_path() == isolated_env / "xdg-config" / "oruel" / "config.yaml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(isolated_env / "home"))
    assert config_path() == isolated_env / "home" / ".config" / "oruel" / "config.yaml"


def test_data_dir(isolated_env, monkeypatch):
    assert data_dir() == isolated_env / "xdg-data" / "oruel"
    monkeypatch.setenv("ORUEL_DATA_DIR", str(isolated_env / "d"))
    assert data_dir() == isolated_env / "d"


# --- good files --------------------------------------------------------------------


def test_missing_file_is_an_empty_config(isolated_env):
    (isolated_env / "config.yaml").unlink(missing_ok=True)  # ORUEL_TEST_CONFIG may write one
    cfg = load_config()
    assert cfg == Config()
    assert cfg.params == {} and cfg.tiers == {} and cfg.model is None and cfg.path is None


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file_is_an_empty_config(isolated_env, text):
    cfg = load_config(write(isolated_env / "config.yaml", text))
    assert cfg.params == {} and cfg.runtime.repack is None


def test_a_bare_yaml_on_or_off_is_the_word(isolated_env):
    """YAML 1.1 reads `on`/`off` as booleans; the switches take them as the words."""
    write(isolated_env / "config.yaml", "runtime:\n  repack: off\n  flash_attn: on\n")
    cfg = load_config()
    assert (cfg.runtime.repack, cfg.runtime.flash_attn) == ("off", "on")


def test_spec_example_loads(isolated_env):
    path = write(isolated_env / "config.yaml", FULL_EXAMPLE)
    cfg = load_config()  # through ORUEL_CONFIG
    assert cfg.path == path
    assert cfg.model == "llama-4-maverick" and cfg.preset == "chatbot"
    assert cfg.params == {"temperature": 0.6}
    assert (cfg.runtime.ctx, cfg.runtime.threads, cfg.runtime.gpu_layers) == (8192, 2, -1)
    assert cfg.runtime.repack == "auto"
    assert cfg.tiers["turbo"].model == "small-fast"
    assert cfg.tiers["turbo"].params == {"max_tokens": 512}
    assert cfg.tiers["standard"].params == {}
    assert cfg.tier("turbo") is cfg.tiers["turbo"] and cfg.tier("fast") is None
    assert cfg.endpoints[0].url == "http://gpu-1:8000/v1"
    assert cfg.endpoints[0].api_key_env == "FLEET_KEY"
    assert cfg.endpoints[0].model == "meta-llama/Llama-4-Maverick"
    assert cfg.endpoints[0].parallel == 16


# --- bad files: each names the file and the key ---------------------------------------


@pytest.mark.parametrize(
    "text, key",
    [
        ("foo: 1\n", "'foo'"),
        ("runtime:\n  bogus: 1\n", "'runtime.bogus'"),
        ("runtime:\n  repack: maybe\n", "'runtime.repack'"),
        ("runtime:\n  flash_attn: yes please\n", "'runtime.flash_attn'"),
        ("runtime:\n  ctx: 0\n", "'runtime.ctx'"),
        ("runtime:\n  ctx: '8192'\n", "'runtime.ctx'"),
        ("runtime:\n  threads: 0\n", "'runtime.threads'"),
        ("runtime:\n  gpu_layers: -2\n", "'runtime.gpu_layers'"),
        ("tiers:\n  fast: {}\n", "'tiers.fast'"),
        ("tiers:\n  turbo: {speed: 9}\n", "'tiers.turbo.speed'"),
        ("tiers:\n  turbo:\n    runtime: {repack: sometimes}\n", "'tiers.turbo.runtime.repack'"),
        ("models_dirs: ~/models\n", "'models_dirs'"),
        ("aliases: [a, b]\n", "'aliases'"),
        ("params: [temperature]\n", "'params'"),
        ("model: 5\n", "'model'"),
        ("endpoints:\n  - {url: gpu-1:8000}\n", "'endpoints.0.url'"),
        ("endpoints:\n  - {api_key_env: K}\n", "'endpoints.0.url'"),
        ("endpoints:\n  - {url: 'http://a/v1', parallel: 0}\n", "'endpoints.0.parallel'"),
        ("endpoints:\n  - {url: 'http://a/v1', key: x}\n", "'endpoints.0.key'"),
        ("tiers:\n  turbo: {endpoints: [{url: 5}]}\n", "'tiers.turbo.endpoints.0.url'"),
    ],
)
def test_bad_key_or_value_names_file_and_key(isolated_env, text, key):
    msg = usage_error(write(isolated_env / "config.yaml", text))
    assert f"bad key {key}:" in msg
    assert "[key]" not in msg


@pytest.mark.parametrize(
    "text, detail",
    [
        (
            "params:\n  temperature: 5\n",
            "params: invalid temperature 5 (allowed: a number from 0 to 2)",
        ),
        ("params:\n  temperature: '0.5'\n", "params: invalid temperature '0.5'"),
        ("params:\n  temperature: .nan\n", "params: invalid temperature NaN"),
        ("params:\n  top_k: true\n", "params: invalid top_k true"),
        ("params:\n  stop: [a, b, c, d, e]\n", "params: invalid stop"),
        (
            "params:\n  temprature: 0.5\n",
            "params: unknown parameter 'temprature' (did you mean temperature?)",
        ),
        (
            "tiers:\n  turbo:\n    params: {max_tokens: 0}\n",
            "tiers.turbo.params: invalid max_tokens 0",
        ),
        ("tiers:\n  turbo:\n    params: {tier: fast}\n", "tiers.turbo.params: invalid tier 'fast'"),
    ],
)
def test_bad_params_name_file_key_and_value(isolated_env, text, detail):
    msg = usage_error(write(isolated_env / "config.yaml", text))
    assert detail in msg


@pytest.mark.parametrize(
    "text, detail",
    [
        ("model: [unclosed\n", "not valid YAML at line"),
        ("params:\n  temperature: 0.5\n bad indent: 1\n", "not valid YAML"),
        ("key: value: other\n", "not valid YAML"),
        ("- a list\n- not a mapping\n", "must be a mapping"),
        ("just a string\n", "must be a mapping"),
    ],
)
def test_malformed_yaml_names_the_file(isolated_env, text, detail):
    assert detail in usage_error(write(isolated_env / "config.yaml", text))


@pytest.mark.parametrize("data", NOT_UTF8)
def test_a_config_that_is_not_utf8_names_the_file(isolated_env, data):
    msg = usage_error(write(isolated_env / "config.yaml", data))
    assert "not UTF-8 YAML text" in msg


def test_yaml_is_read_with_a_safe_loader(isolated_env):
    text = "model: !!python/object/apply:os.system ['echo pwned']\n"
    assert "not valid YAML" in usage_error(write(isolated_env / "config.yaml", text))


def test_unreadable_config_names_the_file(isolated_env):
    folder = isolated_env / "config.yaml"
    folder.unlink(missing_ok=True)  # ORUEL_TEST_CONFIG may have written one
    folder.mkdir()
    assert "cannot read" in usage_error(folder)


# --- through the real CLI -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, detail",
    [
        ("runtime:\n  repack: maybe\n", "'runtime.repack'"),
        ("params:\n  temperature: 5\n", "invalid temperature 5"),
        ("tiers:\n  fast: {}\n", "'tiers.fast'"),
        ("model: [unclosed\n", "not valid YAML"),
        (NOT_UTF8[0], "not UTF-8 YAML text"),
    ],
)
def test_cli_with_a_bad_config_exits_2_before_any_model(isolated_env, text, detail):
    path = write(isolated_env / "config.yaml", text)
    proc = subprocess.run(
        [str(ORUEL), "ask", "--show-params", "-m", str(isolated_env / "no-model.gguf"), "hi"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"oruel: error: config file {path}: ")
    assert detail in lines[0]
