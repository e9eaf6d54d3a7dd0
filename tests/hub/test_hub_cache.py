"""The hub cache read offline (which REF is pulled, what `models list` shows) and the
free-space check, on cache folders laid out here as huggingface_hub lays them out."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from oruel_cli.errors import RuntimeFailure
from oruel_cli.hub.cache import find_cached, pulled_models
from oruel_cli.hub.download import _check_space
from oruel_cli.hub.ref import HubRef

COMMIT = "a" * 40
SPLIT = [f"m-Q8_0-0000{i}-of-00003.gguf" for i in (1, 2, 3)]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    return tmp_path


def lay_out(cache: Path, repo: str, files: list[str]) -> Path:
    """A repo at COMMIT whose snapshot links each file to a blob of its own."""
    storage = cache / ("models--" + repo.replace("/", "--"))
    (storage / "refs").mkdir(parents=True)
    (storage / "refs" / "main").write_text(COMMIT)
    (storage / "blobs").mkdir()
    for i, name in enumerate(files):
        blob = storage / "blobs" / f"{i:064x}"
        blob.write_bytes(b"GGUF" + bytes(i + 1))
        link = storage / "snapshots" / COMMIT / name
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, link.parent), link)
    return storage / "snapshots" / COMMIT


def test_a_pulled_ref_is_found_by_quant_and_by_file(cache: Path) -> None:
    snap = lay_out(cache, "u/r", ["m-Q4_K_M.gguf", "m-Q8_0.gguf", "README.md"])
    assert find_cached(HubRef("u/r")) == snap / "m-Q4_K_M.gguf"
    assert find_cached(HubRef("u/r", "q8_0")) == snap / "m-Q8_0.gguf"
    assert find_cached(HubRef("u/r", filename="m-Q8_0.gguf")) == snap / "m-Q8_0.gguf"
    assert find_cached(HubRef("u/r", "IQ4_XS")) is None
    assert find_cached(HubRef("u/other")) is None


def test_a_split_model_is_pulled_only_with_every_part(cache: Path) -> None:
    snap = lay_out(cache, "u/r", SPLIT)
    assert find_cached(HubRef("u/r", "Q8_0")) == snap / SPLIT[0]
    blob = (snap / SPLIT[2]).resolve()
    blob.unlink()  # a link whose blob is gone is no file
    assert find_cached(HubRef("u/r", "Q8_0")) is None
    assert pulled_models() == []


def test_pulled_models_are_named_by_the_ref_to_type(cache: Path) -> None:
    lay_out(cache, "u/r", ["m-Q4_K_M.gguf", "plain.gguf", "mmproj-m-f16.gguf", *SPLIT])
    by_ref = {m.ref: m for m in pulled_models()}
    assert sorted(by_ref) == ["u/r/plain.gguf", "u/r:Q4_K_M", "u/r:Q8_0"]  # no mmproj
    assert len(by_ref["u/r:Q8_0"].files) == 3
    assert by_ref["u/r:Q8_0"].size == sum(f.stat().st_size for f in by_ref["u/r:Q8_0"].files)


def test_too_little_disk_space_names_what_is_needed_and_where(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(RuntimeFailure, match=f"not enough disk space in {tmp_path}") as e:
        _check_space(tmp_path, free + 10**9)
    assert "HF_HUB_CACHE" in str(e.value)
    _check_space(tmp_path, 1)  # a byte fits
