"""`oruel models pull REF`, and the pull that chat, ask, run and serve do first
for a REF not yet in the cache: which files, then each one into the cache."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import Interrupted, RuntimeFailure, UsageError
from ..models.gguf import format_size
from .cache import find_cached
from .download import download, verify_cached
from .ref import DEFAULT_QUANT, HubRef, pick_files, quants_with_sizes, split_info
from .remote import Listing, RemoteFile, endpoint, fetch_listing, not_pulled_offline, offline

_LIST_MAX = 30  # names shown in a message


def resolve_ref(ref: HubRef, pull: bool) -> Path:
    """The local file of `ref`: from the cache with no network request, else pulled
    first when `pull` (chat, ask, run, serve), else a failure naming `oruel models pull`."""
    found = find_cached(ref)
    if found is not None:
        return found
    if offline():
        raise not_pulled_offline(ref)
    if not pull:
        raise RuntimeFailure(f"{ref} is not pulled yet: run `oruel models pull {ref}`")
    print(f"oruel: {ref} is not in the cache: pulling it from {endpoint()}", file=sys.stderr)
    return pull_ref(ref)


def pull_ref(ref: HubRef) -> Path:
    """Pull every file of `ref` (all parts of a split model); the first one's local path.

    Files already in the cache with the hub's size and hash are not pulled again.
    """
    from .progress import PullProgress

    if offline():
        found = find_cached(ref)
        if found is not None:
            return found
        raise not_pulled_offline(ref)
    listing = fetch_listing(ref)
    files = plan(ref, listing)
    progress = PullProgress()
    links = []
    try:
        for f in files:
            link = verify_cached(listing, f)
            if link is None:
                link = download(ref, listing, f, progress)
                progress.finish()
            links.append(link)
    except KeyboardInterrupt:
        raise Interrupted(f"the pull of {ref} stops here: pull it again to resume") from None
    finally:
        progress.close()  # before main prints a line: the bar's last state stays above it
    return links[0]


def plan(ref: HubRef, listing: Listing) -> list[RemoteFile]:
    """The files `ref` names in `listing`; a failure listing what the repo has when none."""
    paths = list(listing.files)
    picked = pick_files(paths, ref)
    if not picked:
        raise _no_match(ref, listing)
    count = split_info(picked[0])[2]
    if len(picked) != count:
        raise RuntimeFailure(
            f"{ref.repo}: {picked[0]} is part 1 of {count}, the repo has only "
            f"{len(picked)} of the parts"
        )
    return [listing.files[p] for p in picked]


def _no_match(ref: HubRef, listing: Listing) -> Exception:
    sizes = {p: f.size for p, f in listing.files.items()}
    quants = quants_with_sizes(sizes)
    if not quants:
        names = ", ".join(listing.gguf_names[:_LIST_MAX]) or "none"
        return RuntimeFailure(f"{ref.repo} has no GGUF model files (its .gguf files: {names})")
    have = ", ".join(f"{q} ({format_size(s)})" for q, s in quants[:_LIST_MAX])
    if ref.filename:
        names = ", ".join(listing.gguf_names[:_LIST_MAX])
        return RuntimeFailure(f"{ref.repo} has no file {ref.filename} (its GGUF files: {names})")
    if ref.quant is None:
        return UsageError(
            f"{ref.repo} has no {DEFAULT_QUANT} file, the default quant: name one, as in "
            f"{ref.repo}:{quants[0][0]} (it has {have})"
        )
    return RuntimeFailure(f"{ref.repo} has no {ref.quant} file (it has {have})")
