"""The stand-in hub checked with huggingface_hub's own `hf_hub_download` and `HfApi`,
before oruel is tested on it: if the library accepts its answers, so would it the hub's."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.hub_proc import StandInHub
from support.hub_standin import GATED_TOKEN, MODEL

from oruel_cli.models.resolve import embedded_model_path


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandInHub]:
    h = StandInHub(tmp_path_factory.mktemp("hub"))
    yield h
    h.stop()


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_hf_hub_download_pulls_a_file_into_the_cache(hub: StandInHub, tmp_path: Path) -> None:
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(
        "test/SmolLM2-GGUF", f"{MODEL}-Q8_0.gguf", endpoint=hub.url, cache_dir=tmp_path
    )
    assert sha256(path) == sha256(embedded_model_path())
    assert os.path.basename(os.path.realpath(path)) == sha256(path)  # blobs/SHA256


def test_the_listing_has_sizes_and_hashes(hub: StandInHub) -> None:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.url)
    info = api.model_info("test/Split-GGUF")
    assert len(info.sha) == 40
    files = [f for f in api.list_repo_tree("test/Split-GGUF", recursive=True) if hasattr(f, "size")]
    assert [f.path.rsplit("-", 1)[-1] for f in files] == ["00003.gguf"] * 3
    assert all(f.lfs and len(f.lfs.sha256) == 64 for f in files)
    assert sum(f.size for f in files) > embedded_model_path().stat().st_size // 2


def test_errors_carry_the_hubs_codes(hub: StandInHub, tmp_path: Path) -> None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        GatedRepoError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
    )

    def get(repo: str, name: str, token: str | bool = False) -> str:
        return hf_hub_download(repo, name, endpoint=hub.url, cache_dir=tmp_path, token=token)

    with pytest.raises(RepositoryNotFoundError) as e:
        get("test/Nope", "x.gguf")
    assert e.value.response.status_code == 401  # anonymous: as for a private repo
    with pytest.raises(RepositoryNotFoundError) as e:
        get("test/Nope", "x.gguf", token="hf_other")
    assert e.value.response.status_code == 404
    with pytest.raises(RemoteEntryNotFoundError):
        get("test/SmolLM2-GGUF", "nope.gguf")
    with pytest.raises(GatedRepoError):
        get("test/Gated-GGUF", f"{MODEL}-Q4_K_M.gguf")
    assert Path(get("test/Gated-GGUF", f"{MODEL}-Q4_K_M.gguf", token=GATED_TOKEN)).is_file()


def test_the_library_lands_a_corrupt_file_under_the_advertised_hash(
    hub: StandInHub, tmp_path: Path
) -> None:
    """What oruel guards against: huggingface_hub checks only the size."""
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(
        "test/Corrupt-GGUF", f"{MODEL}-Q4_K_M.gguf", endpoint=hub.url, cache_dir=tmp_path
    )
    assert os.path.basename(os.path.realpath(path)) == sha256(embedded_model_path())
    assert sha256(path) != sha256(embedded_model_path())


def test_a_ranged_get_gets_206_and_the_rest(hub: StandInHub) -> None:
    import httpx2

    url = f"{hub.url}/test/SmolLM2-GGUF/resolve/main/{MODEL}-Q8_0.gguf"
    size = embedded_model_path().stat().st_size
    r = httpx2.get(url, headers={"Range": f"bytes={size - 10}-"})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes {size - 10}-{size - 1}/{size}"
    assert r.content == embedded_model_path().read_bytes()[-10:]
    assert any("range=bytes=" in line for line in hub.requests())
