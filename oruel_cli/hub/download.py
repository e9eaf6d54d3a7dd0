"""Pulling one file into the hub cache: resumable, hashed, checked, never half there.

huggingface_hub's own download writes to a fresh temporary file that it
deletes on Ctrl-C (a second run starts again at byte 0) and checks only the
size. Here the bytes go to `blobs/SHA256.incomplete` (the name the cache tools
know as an unfinished download), a later pull resumes it with a `Range`
request, and the sha256 is computed while the bytes arrive. Only a file of
the right size and hash that starts like a GGUF file is moved to
`blobs/SHA256` and linked from `snapshots/COMMIT/FILE`, where `-m REF` finds
it; on a mismatch the partial file, the blob and the link all go.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import RuntimeFailure
from ..models.gguf import GGUF_MAGIC, format_size
from .cache import MAIN, cache_dir, storage_folder
from .ref import HubRef
from .remote import Listing, RemoteFile, endpoint, hub_failure

CHUNK = 1 << 20
READ_TIMEOUT = 60.0  # seconds without a byte before a download gives up
SPACE_MARGIN = 64 << 20  # kept free beyond the file itself

if TYPE_CHECKING:
    from huggingface_hub.errors import HfHubHTTPError

    from .progress import PullProgress


def blob_and_link(listing: Listing, f: RemoteFile, etag: str) -> tuple[Path, Path]:
    storage = storage_folder(listing.repo)
    return storage / "blobs" / etag, storage / "snapshots" / listing.commit / f.path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify_cached(listing: Listing, f: RemoteFile) -> Path | None:
    """The snapshot link of `f` when it is there with the hub's size and hash; a bad one is removed."""
    link = storage_folder(listing.repo) / "snapshots" / listing.commit / f.path
    if not link.exists():
        return None
    if _intact(link, f.size, f.sha256):
        return link
    remove_file(link)
    return None


def remove_file(link: Path) -> None:
    """A snapshot link and the blob it points at."""
    blob = link.resolve() if link.is_symlink() else None
    link.unlink(missing_ok=True)
    if blob is not None:
        blob.unlink(missing_ok=True)


def download(ref: HubRef, listing: Listing, f: RemoteFile, progress: PullProgress) -> Path:
    """Pull `f` of `listing` into the cache, told to `progress`; its snapshot link."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.utils import WeakFileLock

    url = hf_hub_url(listing.repo, f.path, revision=listing.commit, endpoint=endpoint())
    try:
        meta = get_hf_file_metadata(url, timeout=READ_TIMEOUT)
    except Exception as e:  # noqa: BLE001 - each kind becomes its own line
        raise hub_failure(e, HubRef(ref.repo, filename=f.path)) from None
    etag = meta.etag or f.sha256 or ""
    expected_hash = f.sha256 or (etag if len(etag) == 64 else None)
    size = meta.size if meta.size is not None else f.size
    blob, link = blob_and_link(listing, f, etag)
    partial = blob.with_name(blob.name + ".incomplete")
    blob.parent.mkdir(parents=True, exist_ok=True)
    lock = cache_dir() / ".locks" / storage_folder(listing.repo).name / f"{etag}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    target = HubRef(ref.repo, filename=f.path)
    with WeakFileLock(lock):
        if blob.exists() and not _intact(blob, size, expected_hash):
            blob.unlink()  # put there by another tool, and not what the hub has
        if not blob.exists():
            _fetch(meta.location or url, partial, size, expected_hash, progress, target)
            os.chmod(partial, 0o644)
            os.replace(partial, blob)
        else:
            progress.cached(f.path, size)
        _link(blob, link)
        _write_ref(listing)
    return link


def _intact(path: Path, size: int, sha: str | None) -> bool:
    return path.stat().st_size == size and (sha is None or sha256_of(path) == sha)


def _refused(e: HfHubHTTPError, name: str, url: str) -> RuntimeFailure:
    """A GET the hub (or the CDN it sent us to) answered with an error status."""
    status = e.response.status_code if e.response is not None else "?"
    why = f" ({e.server_message.strip()})" if e.server_message else ""
    return RuntimeFailure(
        f"the download of {name} was refused by {urlsplit(url).netloc}: {status}{why}; "
        "pull again to resume (a signed address is made afresh)"
    )


def _fetch(
    url: str, partial: Path, size: int, sha: str | None, progress: PullProgress, ref: HubRef
) -> None:
    """Bytes into `partial`, resuming what is there; checked against size, hash and GGUF magic."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils import build_hf_headers, get_session

    name = ref.filename or str(ref)
    have = partial.stat().st_size if partial.exists() else 0
    if have > size:
        partial.unlink()
        have = 0
    _check_space(partial.parent, size - have)
    h = hashlib.sha256()
    if have:
        with open(partial, "rb") as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
    progress.start(name, size, have)
    headers = build_hf_headers()
    headers["Accept-Encoding"] = "identity"
    if urlsplit(url).netloc != urlsplit(endpoint()).netloc:
        headers.pop("authorization", None)  # a signed CDN address: the token is not for it
    if have < size:
        if have:
            headers["Range"] = f"bytes={have}-"
        timeout = httpx2.Timeout(READ_TIMEOUT, connect=10.0)
        try:
            with get_session().stream("GET", url, headers=headers, timeout=timeout) as r:
                if r.status_code >= 400:
                    r.read()
                    from huggingface_hub.utils import hf_raise_for_status

                    hf_raise_for_status(r)
                mode = "ab"
                if have and r.status_code != 206:  # the range was ignored: start again
                    progress.restart()
                    have, mode, h = 0, "wb", hashlib.sha256()
                with open(partial, mode) as out:
                    for chunk in r.iter_bytes(CHUNK):
                        out.write(chunk)
                        h.update(chunk)
                        have += len(chunk)
                        progress.advance(len(chunk))
        except RuntimeFailure:
            raise
        except HfHubHTTPError as e:  # an OSError too: said before the write errors
            raise _refused(e, name, url) from None
        except (httpx2.TransportError, OSError) as e:
            if isinstance(e, OSError) and not isinstance(e, ConnectionError):
                raise RuntimeFailure(f"cannot write {partial}: {e.strerror or e}") from None
            raise RuntimeFailure(
                f"the download of {name} from {endpoint()} broke off after "
                f"{format_size(have)} of {format_size(size)} ({type(e).__name__}); "
                "pull again to resume"
            ) from None
        except Exception as e:  # noqa: BLE001 - hub errors on the GET itself
            raise hub_failure(e, ref) from None
    if have != size:
        if have > size:
            partial.unlink(missing_ok=True)
        raise RuntimeFailure(
            f"the download of {name} ended at {have:,} bytes, the hub says {size:,}: "
            "pull again to resume"
        )
    if sha is not None and h.hexdigest() != sha:
        partial.unlink(missing_ok=True)
        raise RuntimeFailure(
            f"{name}: the downloaded bytes do not match the hub's sha256 ({sha[:12]}...): "
            "the file was removed, pull again"
        )
    with open(partial, "rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            partial.unlink(missing_ok=True)
            raise RuntimeFailure(f"{name}: the downloaded file is not a GGUF file; it was removed")


def _check_space(folder: Path, need: int) -> None:
    free = shutil.disk_usage(folder).free
    if need + SPACE_MARGIN > free:
        raise RuntimeFailure(
            f"not enough disk space in {folder}: the download needs {format_size(need)}, "
            f"{format_size(free)} is free (set HF_HUB_CACHE or HF_HOME to pull elsewhere)"
        )


def _link(blob: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    try:
        os.symlink(os.path.relpath(blob, link.parent), link)
    except OSError:  # no symlinks here (some Windows set-ups): a copy, as huggingface_hub does
        shutil.copyfile(blob, link)


def _write_ref(listing: Listing) -> None:
    ref = storage_folder(listing.repo) / "refs" / MAIN
    ref.parent.mkdir(parents=True, exist_ok=True)
    if not ref.exists() or ref.read_text().strip() != listing.commit:
        tmp = ref.with_name(f"{MAIN}.{os.getpid()}.tmp")
        tmp.write_text(listing.commit)
        os.replace(tmp, ref)
