"""`oruel models rm REF`: a pulled model out of the hub cache, through
huggingface_hub's cache API (`scan_cache_dir`, `delete_files`), which keeps a
blob that another revision still links to."""

from __future__ import annotations

import sys

from ..errors import RuntimeFailure, UsageError
from ..models.gguf import format_size
from .cache import cache_dir
from .ref import HubRef, pick_files, split_info


def remove_ref(ref: HubRef, yes: bool) -> None:
    """Delete every cached copy of `ref`'s files (all revisions, all split parts), asking first."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache_dir())
    except CacheNotFound:
        info = None
    selected = []
    for repo in info.repos if info else ():
        if repo.repo_id != ref.repo or repo.repo_type != "model":
            continue
        for rev in repo.revisions:
            by_path = {f.file_path.relative_to(rev.snapshot_path).as_posix(): f for f in rev.files}
            picked = pick_files(list(by_path), ref)
            if picked and len(picked) == split_info(picked[0])[2]:
                selected += [by_path[p] for p in picked]
    if not selected or info is None:
        raise RuntimeFailure(
            f"{ref} is not in the Hugging Face cache {cache_dir()} (`oruel models list` shows what is)"
        )
    strategy = info.delete_files(*selected)
    names = sorted({f.file_name for f in selected})
    shown = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more parts"
    what = f"{ref} ({shown}; frees {format_size(strategy.expected_freed_size)})"
    if not yes:
        if not sys.stdin or not sys.stdin.isatty():
            raise UsageError(f"models rm would delete {what}: pass -y to delete without asking")
        import typer

        if not typer.confirm(f"Delete {what} from {cache_dir()}?", default=False, err=True):
            print("nothing deleted", file=sys.stderr)
            return
    strategy.execute()
    print(f"deleted {what}", file=sys.stderr)
