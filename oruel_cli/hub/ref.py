"""A Hugging Face model REF, and which of a repo's files it names.

REF spellings: `user/repo`, `user/repo:QUANT`, ollama's `hf.co/user/repo:QUANT`
(or `huggingface.co/...`), and `user/repo/FILE.gguf`. A QUANT is matched the way
llama.cpp's `-hf` matches it: case-insensitively, as `QUANT` followed by `.` or
`-` in a `.gguf` file name, skipping image projectors (`mmproj`) and importance
matrices; oruel also wants a separator before it, so `Q4_XS` does not match
`IQ4_XS`. A split model (`NAME-00001-of-00003.gguf`) is all of its parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError

DEFAULT_QUANT = "Q4_K_M"
HOST_PREFIXES = ("hf.co/", "huggingface.co/", "https://hf.co/", "https://huggingface.co/")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # a hub user or repo name
_QUANT = re.compile(r"^[A-Za-z0-9_]+$")
_SPLIT = re.compile(r"^(.+)-(\d{5})-of-(\d{5})$", re.IGNORECASE)
_TAG = re.compile(r"[-.]([A-Za-z0-9_]+)$")
_NOT_MODELS = ("mmproj", "imatrix")
REF_SHAPES = "user/repo, user/repo:QUANT, hf.co/user/repo:QUANT or user/repo/FILE.gguf"


@dataclass(frozen=True)
class HubRef:
    """What a REF names: a repo, and a quant or a file in it (or neither: the default quant)."""

    repo: str
    quant: str | None = None
    filename: str | None = None

    def __str__(self) -> str:
        if self.filename:
            return f"{self.repo}/{self.filename}"
        return f"{self.repo}:{self.quant}" if self.quant else self.repo

    @property
    def wanted_quant(self) -> str:
        return self.quant or DEFAULT_QUANT


def has_host_prefix(text: str) -> bool:
    return text.lower().startswith(HOST_PREFIXES)


def parse_ref(text: str) -> HubRef:
    """`text` as a REF; UsageError (exit 2) naming the shapes allowed when it is none."""
    body = text.strip()
    for prefix in HOST_PREFIXES:
        if body.lower().startswith(prefix):
            body = body[len(prefix) :]
            break
    bad = UsageError(f"malformed model REF {text!r} (allowed: {REF_SHAPES})")
    quant = None
    if ":" in body:
        body, quant = body.split(":", 1)
        if not _QUANT.match(quant):
            raise bad
    parts = body.split("/")
    if len(parts) < 2 or not all(_NAME.match(p) for p in parts[:2]):
        raise bad
    repo = "/".join(parts[:2])
    if len(parts) == 2:
        return HubRef(repo, quant)
    filename = "/".join(parts[2:])
    if quant or not filename.lower().endswith(".gguf") or any(not p for p in parts[2:]):
        raise bad
    if any(p in (".", "..") for p in parts[2:]):
        raise bad
    return HubRef(repo, None, filename)


def split_info(filename: str) -> tuple[str, int, int]:
    """(prefix without `.gguf` and split suffix, part number, part count); (name, 1, 1) unsplit."""
    stem = filename[: -len(".gguf")] if filename.lower().endswith(".gguf") else filename
    m = _SPLIT.match(stem)
    if m:
        return m.group(1), int(m.group(2)), int(m.group(3))
    return stem, 1, 1


def quant_of(filename: str) -> str:
    """The quant tag in a GGUF file name, upper-cased ('' when there is none): `...-Q4_K_M.gguf`."""
    prefix = split_info(filename.rsplit("/", 1)[-1])[0]
    m = _TAG.search(prefix)
    return m.group(1).upper() if m else ""


def is_model_file(path: str) -> bool:
    """A `.gguf` file that holds a model (not an image projector or an importance matrix)."""
    name = path.rsplit("/", 1)[-1].lower()
    return name.endswith(".gguf") and not any(word in name for word in _NOT_MODELS)


def matches_quant(path: str, quant: str) -> bool:
    """`quant` (any case) in `path` with a separator before it and `.` or `-` after it."""
    pattern = rf"(^|[-._/]){re.escape(quant)}[.-]"
    return re.search(pattern, path, re.IGNORECASE) is not None


def pick_files(paths: list[str], ref: HubRef) -> list[str]:
    """The files a REF names among `paths` (a repo's file list), first part first; [] for none."""
    if ref.filename:
        want = ref.filename.lower()
        hits = [p for p in paths if p.lower() == want]
    else:
        hits = [p for p in paths if is_model_file(p) and matches_quant(p, ref.wanted_quant)]
        hits = [p for p in hits if split_info(p)[1] == 1]
    if not hits:
        return []
    return split_parts(paths, hits[0])


def split_parts(paths: list[str], first: str) -> list[str]:
    """Every part of `first`'s split model among `paths`, in order (just `first` if unsplit)."""
    prefix, _, count = split_info(first)
    if count == 1:
        return [first]
    parts = {}
    for p in paths:
        pre, idx, cnt = split_info(p)
        if pre == prefix and cnt == count:
            parts[idx] = p
    return [parts[i] for i in sorted(parts)]


def quants_with_sizes(files: dict[str, int]) -> list[tuple[str, int]]:
    """The quants a repo has, with each one's total size (all split parts), in file order."""
    sizes: dict[str, int] = {}
    for path, size in files.items():
        if is_model_file(path):
            tag = quant_of(path) or path.rsplit("/", 1)[-1]
            sizes[tag] = sizes.get(tag, 0) + size
    return list(sizes.items())
