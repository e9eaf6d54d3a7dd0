"""`oruel models pull | list | rm` and `-m REF`, as real processes against the stand-in hub
(HF_ENDPOINT on loopback) and a private Hugging Face cache; never the real hub."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.hub_proc import StandInHub
from support.hub_standin import GATED_TOKEN, MODEL
from support.watch import finish, start, wait_until

from oruel_cli.models.resolve import embedded_model_path

PROMPT = "What is the capital of France?"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandInHub]:
    h = StandInHub(tmp_path_factory.mktemp("hub"))
    yield h
    h.stop()


@pytest.fixture(autouse=True)
def hf_home(isolated_env: Path) -> Iterator[Path]:
    """This test's Hugging Face cache (each pull writes ~100 MB there: removed after)."""
    home = Path(os.environ["HF_HOME"])
    yield home
    shutil.rmtree(home, ignore_errors=True)


def oruel(*args: str, hub: StandInHub | None = None, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "COLUMNS": "250", **env}
    if hub is not None:
        full["HF_ENDPOINT"] = hub.url
    return subprocess.run(
        [sys.executable, "-m", "oruel_cli", *args],
        env=full, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def snapshot(hf_home: Path, repo: str) -> list[str]:
    """The files in a repo's cached snapshots, by name."""
    snaps = hf_home / "hub" / f"models--{repo.replace('/', '--')}" / "snapshots"
    return sorted(p.name for p in snaps.rglob("*") if not p.is_dir()) if snaps.exists() else []


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pull_then_ask_answers_with_the_hub_stopped(tmp_path: Path, hf_home: Path) -> None:
    own = StandInHub(tmp_path / "hub")
    try:
        r = oruel("models", "pull", "test/SmolLM2-GGUF:q8_0", hub=own)
        assert r.returncode == 0, r.stderr
        assert snapshot(hf_home, "test/SmolLM2-GGUF") == [f"{MODEL}-Q8_0.gguf"]
    finally:
        own.stop()
    r = oruel("ask", "-m", "test/SmolLM2-GGUF:q8_0", "-t", "0", "--max-tokens", "8", PROMPT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()
    assert "pulling" not in r.stderr


def test_no_quant_pulls_q4_k_m_and_no_image_projector(hub: StandInHub, hf_home: Path) -> None:
    r = oruel("models", "pull", "test/SmolLM2-GGUF", hub=hub)
    assert r.returncode == 0, r.stderr
    assert snapshot(hf_home, "test/SmolLM2-GGUF") == [f"{MODEL}-Q4_K_M.gguf"]
    assert f"{MODEL}-Q4_K_M.gguf" in r.stdout
    # piped: plain progress lines, the last one when the file is done
    assert f"oruel pull: {MODEL}-Q4_K_M.gguf 98.4 MB of 98.4 MB (100%), done" in r.stderr


def test_no_q4_k_m_lists_the_quants(hub: StandInHub, hf_home: Path) -> None:
    r = oruel("models", "pull", "test/NoDefault-GGUF", hub=hub)
    assert r.returncode == 2
    assert "no Q4_K_M" in r.stderr and "Q8_0 (98.4 MB)" in r.stderr and "Q5_K_S" in r.stderr
    assert "Traceback" not in r.stderr
    assert snapshot(hf_home, "test/NoDefault-GGUF") == []


def test_the_ollama_spelling(hub: StandInHub, hf_home: Path) -> None:
    r = oruel("models", "pull", "hf.co/test/SmolLM2-GGUF:iq4_xs", hub=hub)
    assert r.returncode == 0, r.stderr
    assert snapshot(hf_home, "test/SmolLM2-GGUF") == [f"{MODEL}-IQ4_XS.gguf"]


@pytest.mark.model
def test_ask_pulls_a_split_model_whole_and_loads_it(hub: StandInHub, hf_home: Path) -> None:
    r = oruel(
        "ask", "-m", "test/Split-GGUF:Q4_K_M", "-t", "0", "--max-tokens", "8", PROMPT, hub=hub
    )
    assert r.returncode == 0, r.stderr
    assert "pulling" in r.stderr
    assert r.stdout.strip()
    parts = [f"{MODEL}-Q4_K_M-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    assert snapshot(hf_home, "test/Split-GGUF") == parts


def test_a_missing_repo_and_file(hub: StandInHub) -> None:
    r = oruel("models", "pull", "test/Nope-GGUF", hub=hub)
    assert r.returncode == 1
    assert "no model repo test/Nope-GGUF" in r.stderr and "private" in r.stderr
    r = oruel("models", "pull", "test/SmolLM2-GGUF/Nope.gguf", hub=hub)
    assert r.returncode == 1
    assert "no file Nope.gguf" in r.stderr and f"{MODEL}-Q8_0.gguf" in r.stderr
    assert r.stderr.count("\n") == 1


def test_gated_without_and_with_the_token(hub: StandInHub, hf_home: Path) -> None:
    r = oruel("models", "pull", "test/Gated-GGUF", hub=hub)
    assert r.returncode == 1
    assert "HF_TOKEN" in r.stderr and f"{hub.url}/test/Gated-GGUF" in r.stderr
    assert snapshot(hf_home, "test/Gated-GGUF") == []
    r = oruel("models", "pull", "test/Gated-GGUF", hub=hub, HF_TOKEN=GATED_TOKEN)
    assert r.returncode == 0, r.stderr
    assert snapshot(hf_home, "test/Gated-GGUF") == [f"{MODEL}-Q4_K_M.gguf"]


def test_offline_and_not_pulled(hub: StandInHub) -> None:
    before = len(hub.requests())
    r = oruel("ask", "-m", "test/SmolLM2-GGUF:Q8_0", PROMPT, hub=hub, HF_HUB_OFFLINE="1")
    assert r.returncode == 1
    assert "`oruel models pull test/SmolLM2-GGUF:Q8_0`" in r.stderr
    assert len(hub.requests()) == before  # not one request


def test_an_unreachable_hub_is_said_at_once() -> None:
    began = time.monotonic()
    r = oruel("models", "pull", "test/SmolLM2-GGUF")  # HF_ENDPOINT: a closed loopback port
    assert r.returncode == 1
    assert "cannot reach the Hugging Face hub at http://127.0.0.1:9" in r.stderr
    assert "HF_HUB_OFFLINE=1" in r.stderr
    assert time.monotonic() - began < 15  # huggingface_hub alone retries ~23 s


def test_a_malformed_ref_is_exit_2() -> None:
    r = oruel("models", "pull", "test/SmolLM2-GGUF:")
    assert r.returncode == 2
    assert "malformed model REF" in r.stderr


def test_a_corrupt_download_is_not_used(hub: StandInHub, hf_home: Path) -> None:
    r = oruel("models", "pull", "test/Corrupt-GGUF", hub=hub)
    assert r.returncode == 1
    assert "sha256" in r.stderr
    storage = hf_home / "hub" / "models--test--Corrupt-GGUF"
    assert snapshot(hf_home, "test/Corrupt-GGUF") == []
    assert list((storage / "blobs").iterdir()) == []
    r = oruel("ask", "-m", "test/Corrupt-GGUF", PROMPT, HF_HUB_OFFLINE="1")
    assert r.returncode == 1 and "not in the Hugging Face cache" in r.stderr


def test_a_corrupt_file_another_tool_left_is_removed(hub: StandInHub, hf_home: Path) -> None:
    """huggingface_hub's own download lands the bad bytes; oruel's pull finds them out."""
    from huggingface_hub import hf_hub_download

    name = f"{MODEL}-Q4_K_M.gguf"
    link = Path(hf_hub_download("test/Corrupt-GGUF", name, endpoint=hub.url,
                                cache_dir=hf_home / "hub"))  # fmt: skip
    blob = link.resolve()
    assert blob.is_file()
    r = oruel("models", "pull", "test/Corrupt-GGUF", hub=hub)
    assert r.returncode == 1 and "sha256" in r.stderr
    assert not link.exists() and not link.is_symlink() and not blob.exists()


def test_sigint_keeps_the_partial_file_and_the_next_pull_resumes(
    hub: StandInHub, hf_home: Path
) -> None:
    blobs = hf_home / "hub" / "models--test--Slow-GGUF" / "blobs"
    partial = blobs / (sha256(embedded_model_path()) + ".incomplete")
    proc, out, err = start([sys.executable, "-m", "oruel_cli", "models", "pull", "test/Slow-GGUF"],
                           env={"HF_ENDPOINT": hub.url})  # fmt: skip
    wait_until(lambda: partial.exists() and partial.stat().st_size > 1 << 20, "1 MB to arrive")
    proc.send_signal(signal.SIGINT)
    rc, _, stderr = finish(proc, out, err)
    assert rc == 130, stderr
    # one line for the stop, after the bar's last state
    assert stderr.strip().splitlines()[-1] == (
        "oruel: interrupted: the pull of test/Slow-GGUF stops here: pull it again to resume"
    ), stderr
    assert stderr.count("oruel:") == 1, stderr
    kept = partial.stat().st_size
    assert 0 < kept < embedded_model_path().stat().st_size
    assert "pull it again to resume" in stderr
    r = oruel("models", "pull", "test/Slow-GGUF", hub=hub)
    assert r.returncode == 0, r.stderr
    ranged = [line for line in hub.requests() if "Slow-GGUF/resolve" in line and "bytes=" in line]
    assert len(ranged) == 1
    start_byte = int(ranged[0].split("bytes=")[1].split("-")[0])
    assert start_byte >= kept  # only the rest was fetched
    (local,) = (hf_home / "hub" / "models--test--Slow-GGUF" / "snapshots").rglob("*.gguf")
    assert sha256(local) == sha256(embedded_model_path())
    assert not partial.exists()


def test_list_shows_pulled_models_and_rm_removes_one(hub: StandInHub, hf_home: Path) -> None:
    assert oruel("models", "pull", "test/SmolLM2-GGUF:Q8_0", hub=hub).returncode == 0
    r = oruel("models", "list")
    assert r.returncode == 0
    row = next(line for line in r.stdout.splitlines() if "test/SmolLM2-GGUF:Q8_0" in line)
    assert "98.4 MB" in row and "llama" in row and "8192" in row
    r = oruel("models", "rm", "test/SmolLM2-GGUF:Q8_0")  # piped, no -y: nothing done
    assert r.returncode == 2 and "-y" in r.stderr
    assert snapshot(hf_home, "test/SmolLM2-GGUF") == [f"{MODEL}-Q8_0.gguf"]
    r = oruel("models", "rm", "test/SmolLM2-GGUF:Q8_0", "-y")
    assert r.returncode == 0, r.stderr
    assert snapshot(hf_home, "test/SmolLM2-GGUF") == []
    assert "test/SmolLM2-GGUF" not in oruel("models", "list").stdout
    r = oruel("ask", "-m", "test/SmolLM2-GGUF:Q8_0", PROMPT, HF_HUB_OFFLINE="1")
    assert r.returncode == 1 and "oruel models pull" in r.stderr
    r = oruel("models", "rm", "test/SmolLM2-GGUF:Q8_0", "-y")
    assert r.returncode == 1 and "not in the Hugging Face cache" in r.stderr


def test_models_info_reads_a_pulled_ref_and_names_pull_for_one_that_is_not(
    hub: StandInHub,
) -> None:
    r = oruel("models", "info", "test/SmolLM2-GGUF:Q8_0", hub=hub)
    assert r.returncode == 1 and "`oruel models pull test/SmolLM2-GGUF:Q8_0`" in r.stderr
    assert oruel("models", "pull", "test/SmolLM2-GGUF:Q8_0", hub=hub).returncode == 0
    r = oruel("models", "info", "test/SmolLM2-GGUF:Q8_0")
    assert r.returncode == 0, r.stderr
    assert "llama" in r.stdout


def test_a_ref_in_the_config_as_default_and_alias(hub: StandInHub, isolated_env: Path) -> None:
    ref = "test/SmolLM2-GGUF:Q8_0"
    (isolated_env / "config.yaml").write_text(f"model: {ref}\naliases:\n  small: {ref}\n")
    r = oruel("models", "info", "small", hub=hub)
    assert r.returncode == 1 and f"`oruel models pull {ref}`" in r.stderr
    assert oruel("models", "pull", ref, hub=hub).returncode == 0
    for args in (["models", "info", "small"], ["models", "info"]):
        r = oruel(*args, HF_HUB_OFFLINE="1")
        assert r.returncode == 0, r.stderr
        assert f"{MODEL}-Q8_0.gguf" in r.stdout
    assert any(line.startswith("│ small ") for line in oruel("models", "list").stdout.splitlines())


@pytest.mark.model
def test_serve_pulls_a_ref_and_serves_it_by_that_name(
    hub: StandInHub, hf_home: Path, tmp_path: Path
) -> None:
    from support.serve_proc import Server, serve_env

    ref = "test/SmolLM2-GGUF:Q8_0"
    env = serve_env(tmp_path / "serve", {}, HF_ENDPOINT=hub.url, HF_HOME=str(hf_home))
    srv = Server(["-m", ref, "--ctx", "512"], env, tmp_path)
    try:
        client = srv.client()
        assert [m.id for m in client.models.list()] == [ref]
        reply = client.chat.completions.create(
            model=ref, messages=[{"role": "user", "content": PROMPT}], max_tokens=4, temperature=0
        )
        assert reply.choices[0].message.content
    finally:
        assert srv.stop() == 0
    assert snapshot(hf_home, "test/SmolLM2-GGUF") == [f"{MODEL}-Q8_0.gguf"]


@pytest.mark.parametrize(
    ("repo", "says"),
    [("test/Truncated-GGUF", "pull again to resume"), ("test/NotGGUF-GGUF", "not a GGUF file")],
)
def test_a_truncated_or_non_gguf_download_is_not_used(
    hub: StandInHub, hf_home: Path, repo: str, says: str
) -> None:
    r = oruel("models", "pull", repo, hub=hub)
    assert r.returncode == 1
    assert says in r.stderr and "Traceback" not in r.stderr
    assert snapshot(hf_home, repo) == []
    r = oruel("models", "info", repo, HF_HUB_OFFLINE="1")
    assert r.returncode == 1 and "not in the Hugging Face cache" in r.stderr


def test_a_cdn_redirect_gets_the_file_without_the_token(hub: StandInHub, hf_home: Path) -> None:
    """The hub answers with a 302 to a signed address on another host: the token goes
    to the hub only (the stand-in CDN, like S3, refuses a request that carries one)."""
    r = oruel("models", "pull", "test/CDN-GGUF", hub=hub, HF_TOKEN="hf_standin_any_token")
    assert r.returncode == 0, r.stderr
    assert snapshot(hf_home, "test/CDN-GGUF") == [f"{MODEL}-Q4_K_M.gguf"]
    lines = [line for line in hub.requests() if "CDN-GGUF/resolve" in line or "/cdn/" in line]
    assert any(line.startswith("HEAD /test/CDN-GGUF/resolve/") and "auth=yes" in line
               for line in lines), lines  # fmt: skip
    fetched = [line for line in lines if line.startswith("GET /cdn/")]
    assert fetched and all("auth=no" in line for line in fetched), lines
    blob = hf_home / "hub" / "models--test--CDN-GGUF" / "snapshots"
    assert sha256(next(blob.rglob("*.gguf"))) == sha256(embedded_model_path())


def test_a_refused_cdn_download_names_the_status_and_keeps_nothing(
    hub: StandInHub, hf_home: Path
) -> None:
    """The signed address answers 403 "Request has expired": one line with the host,
    the status and the server's words (not a write error), exit 1, no file linked."""
    r = oruel("models", "pull", "test/Expired-GGUF", hub=hub)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"refused by localhost:{hub.port}: 403 (Request has expired)" in lines[0], lines[0]
    assert "pull again" in lines[0] and "cannot write" not in lines[0]
    assert snapshot(hf_home, "test/Expired-GGUF") == []
