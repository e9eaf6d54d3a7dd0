"""The Hugging Face cache, read without the network: where a REF's files are
once pulled, the pulled models `oruel models list` shows, removing one.

The layout is huggingface_hub's (`HF_HUB_CACHE`, else `HF_HOME/hub`):
`models--USER--REPO/refs/main` holds the commit, `snapshots/COMMIT/FILE` is a
link to `blobs/SHA256`. A model another tool pulled there is found as well,
and one oruel pulled is there for the others. A split model counts as pulled
only when every part is there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .ref import HubRef, is_model_file, pick_files, quant_of, split_info

MAIN = "main"


def cache_dir() -> Path:
    """The hub cache folder, as huggingface_hub computes it from HF_HUB_CACHE / HF_HOME."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def storage_folder(repo: str) -> Path:
    return cache_dir() / ("models--" + repo.replace("/", "--"))


def cached_commit(repo: str) -> str | None:
    try:
        return (storage_folder(repo) / "refs" / MAIN).read_text().strip() or None
    except OSError:
        return None


def snapshot_files(snapshot: Path) -> list[str]:
    """The repo-relative paths of the files in a snapshot folder (links whose blob is there)."""
    out = []
    for root, _dirs, files in os.walk(snapshot):
        for name in files:
            full = Path(root) / name
            if full.exists():  # a link to a missing blob is no file
                out.append(full.relative_to(snapshot).as_posix())
    return sorted(out)


def find_cached(ref: HubRef) -> Path | None:
    """The local path of a pulled REF (its first part, for a split model), or None."""
    commits = []
    main = cached_commit(ref.repo)
    if main:
        commits.append(main)
    snaps = storage_folder(ref.repo) / "snapshots"
    try:
        others = sorted(snaps.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        others = []
    commits += [p.name for p in others if p.name != main]
    for commit in commits:
        snapshot = snaps / commit
        files = snapshot_files(snapshot)
        picked = pick_files(files, ref)
        if picked and len(picked) == split_info(picked[0])[2]:
            return snapshot / picked[0]
    return None


@dataclass(frozen=True)
class PulledModel:
    """A model in the hub cache, as `models list` shows it."""

    ref: str  # what to type after -m
    path: Path  # the first part
    size: int  # all parts together
    files: tuple[Path, ...]


def pulled_models() -> list[PulledModel]:
    """Every GGUF model in the hub cache, one per file (per split model), by REF."""
    out: list[PulledModel] = []
    root = cache_dir()
    try:
        repos = sorted(p for p in root.iterdir() if p.name.startswith("models--"))
    except OSError:
        return []
    for folder in repos:
        repo = folder.name[len("models--") :].replace("--", "/", 1)
        snaps = folder / "snapshots"
        try:
            snapshots = sorted(snaps.iterdir())
        except OSError:
            continue
        seen: set[str] = set()
        for snapshot in snapshots:
            files = snapshot_files(snapshot)
            for path in files:
                if not is_model_file(path) or split_info(path)[1] != 1 or path in seen:
                    continue
                parts = pick_files(files, HubRef(repo, filename=path))
                if len(parts) != split_info(path)[2]:
                    continue
                seen.add(path)
                full = [snapshot / p for p in parts]
                out.append(
                    PulledModel(
                        ref=_ref_for(repo, path, files),
                        path=full[0],
                        size=sum(f.stat().st_size for f in full),
                        files=tuple(full),
                    )
                )
    return out


def _ref_for(repo: str, path: str, files: list[str]) -> str:
    """`repo:QUANT` when that resolves to this file, else `repo/FILE`."""
    quant = quant_of(path)
    if quant:
        picked = pick_files(files, HubRef(repo, quant))
        if picked and picked[0] == path:
            return f"{repo}:{quant}"
    return f"{repo}/{path}"
