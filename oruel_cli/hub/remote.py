"""Asking the hub (huggingface_hub's HfApi, `HF_ENDPOINT`, `HF_TOKEN`) what a repo holds,
and turning each of its failures into one line with its exit code.

huggingface_hub retries a listing for about 23 s when the hub is down; the
first call here (the repo's info) is made with a short timeout and no retry,
so an unreachable hub is said at once. An anonymous request for a missing
repo gets a 401 from the real hub, the same as a private one: the message
says both are possible.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import RuntimeFailure
from .ref import HubRef

CONNECT_TIMEOUT = 10.0  # seconds for the first answer of the hub
OFFLINE_VALUES = ("1", "on", "yes", "true")


def endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in OFFLINE_VALUES


def has_token() -> bool:
    from huggingface_hub import get_token

    return bool(get_token())


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    sha256: str | None  # an LFS file's hash, from the tree listing


@dataclass(frozen=True)
class Listing:
    """A repo at one commit: its files by path."""

    repo: str
    commit: str
    files: dict[str, RemoteFile]

    @property
    def gguf_names(self) -> list[str]:
        return [p for p in self.files if p.lower().endswith(".gguf")]


def fetch_listing(ref: HubRef) -> Listing:
    """The repo's commit (`main`) and file tree; RuntimeFailure for every hub failure."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint())
    try:
        info = api.model_info(ref.repo, timeout=CONNECT_TIMEOUT)
        commit = info.sha or "main"
        files = {}
        for entry in api.list_repo_tree(ref.repo, revision=commit, recursive=True):
            size = getattr(entry, "size", None)
            if size is None:  # a folder
                continue
            lfs = getattr(entry, "lfs", None)
            files[entry.path] = RemoteFile(entry.path, int(size), lfs.sha256 if lfs else None)
    except Exception as e:  # noqa: BLE001 - each kind becomes its own line below
        raise hub_failure(e, ref) from None
    return Listing(ref.repo, commit, files)


def model_page(repo: str) -> str:
    return f"{endpoint()}/{repo}"


def hub_failure(e: Exception, ref: HubRef) -> RuntimeFailure:
    """One line for a failed hub call (exit 1)."""
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo = ref.repo
    if isinstance(e, OfflineModeIsEnabled):
        return not_pulled_offline(ref)
    if isinstance(e, (httpx2.ConnectError, httpx2.TimeoutException, httpx2.NetworkError)):
        return RuntimeFailure(
            f"cannot reach the Hugging Face hub at {endpoint()} ({type(e).__name__}: {e}); "
            "to use only models already pulled, set HF_HUB_OFFLINE=1"
        )
    if isinstance(e, GatedRepoError):
        if has_token():
            return RuntimeFailure(
                f"{repo} is gated and the HF_TOKEN given has no access to it: "
                f"ask for access at {model_page(repo)}"
            )
        return RuntimeFailure(
            f"{repo} is gated: accept its terms at {model_page(repo)}, then set HF_TOKEN "
            "to an access token of that account"
        )
    if isinstance(e, RepositoryNotFoundError):
        status = e.response.status_code if e.response is not None else None
        if status == 401 and not has_token():
            return RuntimeFailure(
                f"no model repo {repo} on {endpoint()}, or it is private or gated "
                "(then set HF_TOKEN to an access token that can read it)"
            )
        return RuntimeFailure(f"no model repo {repo} on {endpoint()} (or HF_TOKEN cannot read it)")
    if isinstance(e, RevisionNotFoundError):
        return RuntimeFailure(f"{repo} has no branch 'main' on {endpoint()}")
    if isinstance(e, RemoteEntryNotFoundError):
        return RuntimeFailure(f"{repo} has no file {ref.filename or '?'} on {endpoint()}")
    if isinstance(e, HfHubHTTPError):
        status = e.response.status_code if e.response is not None else "?"
        return RuntimeFailure(f"the hub at {endpoint()} answered {status} for {repo}")
    if isinstance(e, httpx2.HTTPError):
        return RuntimeFailure(f"the hub at {endpoint()} failed for {repo}: {e}")
    if isinstance(e, RuntimeFailure):
        return e
    return RuntimeFailure(f"the hub at {endpoint()} failed for {repo}: {type(e).__name__}: {e}")


def not_pulled_offline(ref: HubRef) -> RuntimeFailure:
    return RuntimeFailure(
        f"{ref} is not in the Hugging Face cache and HF_HUB_OFFLINE=1 forbids the hub: "
        f"run `oruel models pull {ref}` while online"
    )
