"""Shared fixtures: every test runs in a private world, so the developer's own
config, presets and data never leak in (and nothing is written there)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ORUEL_CONFIG and the XDG folders point into tmp_path.

    ORUEL_CONFIG is tmp_path/config.yaml (so user presets go in tmp_path/presets),
    the same place test_presets.py's own fixture uses, whichever runs last.
    """
    monkeypatch.setenv("ORUEL_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("ORUEL_DATA_DIR", raising=False)
    forced = os.environ.get("ORUEL_TEST_CONFIG")
    if forced:  # a whole run under one config, e.g. `runtime: {repack: off}` (issue 11)
        (tmp_path / "config.yaml").write_text(Path(forced).read_text())
    return tmp_path


@pytest.fixture(scope="session")
def base_config():
    """The config that module-wide engines load under (they are set up before the
    per-test isolation): ORUEL_TEST_CONFIG when set, else an empty config."""
    from oruel_cli.config import Config, load_config

    forced = os.environ.get("ORUEL_TEST_CONFIG")
    return load_config(Path(forced)) if forced else Config()
