"""Shared fixtures: every test runs in a private world, so the developer's own
config, presets and data never leak in (and nothing is written there)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

# A signal ignored by this process is ignored by every oruel it starts (and oruel
# keeps it so, as Unix programs do). Started from a script's background job, the
# suite would inherit an ignored SIGINT and its Ctrl-C tests would test nothing:
# they are about a Ctrl-C that arrives (tests/support/watch.py can start one ignored).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ORUEL_CONFIG and the XDG folders point into a private folder beside tmp_path
    (returned), so a test's own tmp_path holds only what the test writes there.

    ORUEL_CONFIG is <folder>/config.yaml, so user presets go in <folder>/presets.
    With ORUEL_TEST_CONFIG set, that file's content is the config of every test
    (e.g. `runtime: {repack: off}` for a whole run with repacking forced off).
    """
    env = tmp_path.parent / f"{tmp_path.name}-env"
    env.mkdir(exist_ok=True)
    monkeypatch.setenv("ORUEL_CONFIG", str(env / "config.yaml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(env / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(env / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(env / "xdg-cache"))
    monkeypatch.delenv("ORUEL_DATA_DIR", raising=False)
    # The Hugging Face cache is private too, and the real hub out of reach: a test that
    # pulls points HF_ENDPOINT at the stand-in hub (tests/support/hub_standin.py).
    monkeypatch.setenv("HF_HOME", str(env / "hf-home"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    for name in ("HF_HUB_CACHE", "HF_TOKEN", "HF_HUB_OFFLINE", "HF_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    forced = os.environ.get("ORUEL_TEST_CONFIG")
    if forced:
        (env / "config.yaml").write_text(Path(forced).read_text())
    return env


@pytest.fixture(scope="session")
def base_config():
    """The config that module-wide engines load under (they are set up before the
    per-test isolation): ORUEL_TEST_CONFIG when set, else an empty config."""
    from oruel_cli.config import Config, load_config

    forced = os.environ.get("ORUEL_TEST_CONFIG")
    return load_config(Path(forced)) if forced else Config()
