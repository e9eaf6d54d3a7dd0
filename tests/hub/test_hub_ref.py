"""Hugging Face REFs: parsing, quant matching (as llama.cpp's -hf), split parts, and
which `--model` values are REFs. Pure logic, no hub."""

from __future__ import annotations

from pathlib import Path

import pytest

from oruel_cli.errors import UsageError
from oruel_cli.hub.ref import HubRef, matches_quant, parse_ref, pick_files, quants_with_sizes
from oruel_cli.models.resolve import looks_like_ref

FILES = [
    "README.md",
    "Llama-3.2-3B-Instruct-Q4_K_M.gguf",
    "Llama-3.2-3B-Instruct-IQ4_XS.gguf",
    "Llama-3.2-3B-Instruct-q8_0.gguf",
    "mmproj-Llama-3.2-3B-Instruct-Q4_K_M.gguf",
    "Llama-3.2-3B-Instruct-imatrix.gguf",
    "BF16/Llama-3.2-3B-Instruct-BF16-00002-of-00002.gguf",
    "BF16/Llama-3.2-3B-Instruct-BF16-00001-of-00002.gguf",
]


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("bartowski/Llama-3.2-3B-Instruct-GGUF", HubRef("bartowski/Llama-3.2-3B-Instruct-GGUF")),
        ("user/repo:Q4_K_M", HubRef("user/repo", "Q4_K_M")),
        ("hf.co/user/repo:q8_0", HubRef("user/repo", "q8_0")),
        ("huggingface.co/user/repo", HubRef("user/repo")),
        ("user/repo/sub/model-F16.gguf", HubRef("user/repo", None, "sub/model-F16.gguf")),
    ],
)
def test_parse_ref(text: str, ref: HubRef) -> None:
    assert parse_ref(text) == ref


@pytest.mark.parametrize(
    "text", ["user", "user/", "/repo", "user/repo:", "user/repo:Q4:K", "u/r/file.bin", "u/r/../x.gguf",
             "u/r/f.gguf:Q8_0", "hf.co/user", "us er/repo"],
)  # fmt: skip
def test_malformed_ref_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="malformed model REF"):
        parse_ref(text)


@pytest.mark.parametrize(
    ("quant", "want"),
    [
        ("Q4_K_M", ["Llama-3.2-3B-Instruct-Q4_K_M.gguf"]),  # never the mmproj file
        ("q4_k_m", ["Llama-3.2-3B-Instruct-Q4_K_M.gguf"]),
        ("Q8_0", ["Llama-3.2-3B-Instruct-q8_0.gguf"]),
        ("IQ4_XS", ["Llama-3.2-3B-Instruct-IQ4_XS.gguf"]),
        ("Q4_XS", []),  # not a match inside IQ4_XS
        ("Q4_K", []),  # not a prefix of Q4_K_M
        ("bf16", [f"BF16/Llama-3.2-3B-Instruct-BF16-0000{i}-of-00002.gguf" for i in (1, 2)]),
    ],
)
def test_quant_picks_files(quant: str, want: list[str]) -> None:
    assert pick_files(FILES, HubRef("u/r", quant)) == want


def test_no_quant_means_q4_k_m() -> None:
    assert pick_files(FILES, HubRef("u/r")) == ["Llama-3.2-3B-Instruct-Q4_K_M.gguf"]
    assert pick_files([f for f in FILES if "Q4_K_M" not in f], HubRef("u/r")) == []


def test_a_file_ref_is_matched_whole_and_brings_its_parts() -> None:
    ref = HubRef("u/r", filename="bf16/llama-3.2-3b-instruct-bf16-00001-of-00002.gguf")
    assert len(pick_files(FILES, ref)) == 2
    assert pick_files(FILES, HubRef("u/r", filename="README.gguf")) == []


def test_matches_quant_wants_a_separator_after() -> None:
    assert matches_quant("m.Q5_K_S.gguf", "q5_k_s")
    assert not matches_quant("m-Q5_K_Sx.gguf", "Q5_K_S")


def test_quants_with_sizes_add_up_split_parts() -> None:
    sizes = {f: 10 for f in FILES}
    assert quants_with_sizes(sizes) == [("Q4_K_M", 10), ("IQ4_XS", 10), ("Q8_0", 10), ("BF16", 20)]


def test_which_model_values_are_refs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    assert looks_like_ref("bartowski/Llama-3.2-3B-Instruct-GGUF:Q4_K_M")
    assert looks_like_ref("hf.co/models/x")  # the host prefix wins over a local folder
    assert looks_like_ref("u/r/file.gguf")
    assert not looks_like_ref("models/x")  # a folder here: a path
    assert not looks_like_ref("dir/model.gguf")
    assert not looks_like_ref("./u/r")
    assert not looks_like_ref("~/u/r")
    assert not looks_like_ref("default")
