"""A pure-Python GGUF header reader: check a model file before llama.cpp sees it.

`check_gguf(path)` reads the header, the metadata and the tensor infos of a
GGUF file (versions 2 and 3, little-endian) without touching the weights, and
raises `RuntimeFailure` with one line that names the file and what is wrong
when the file is missing, not GGUF, of an unsupported version, corrupt, or
truncated: the end of the last tensor's data, computed from the tensor infos
(offsets, element counts, the ggml type's block size and bytes, the
alignment), must lie inside the file.

Arrays that can be huge (the tokenizer's tokens, scores, token types and
merges) are skimmed: the reader walks past their items without building them
and keeps their element type and length (`ArrayInfo`). The header of a
100 MB model reads in a few milliseconds.

Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""

from __future__ import annotations

import mmap
import os
import stat
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RuntimeFailure
from .ggml_types import GGML_TYPES, VALUE_TYPE_NAMES, ggml_type_name, quantization_name

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4  # GGML_MAX_DIMS

# Arrays longer than this, and every tokenizer.ggml.* array, are skimmed.
KEEP_ARRAY_MAX = 1024
SKIM_PREFIXES = ("tokenizer.ggml.",)

# GGUF metadata value types.
_STRING = 8
_ARRAY = 9
_SCALARS: dict[int, struct.Struct] = {
    0: struct.Struct("<B"),  # uint8
    1: struct.Struct("<b"),  # int8
    2: struct.Struct("<H"),  # uint16
    3: struct.Struct("<h"),  # int16
    4: struct.Struct("<I"),  # uint32
    5: struct.Struct("<i"),  # int32
    6: struct.Struct("<f"),  # float32
    7: struct.Struct("<?"),  # bool
    10: struct.Struct("<Q"),  # uint64
    11: struct.Struct("<q"),  # int64
    12: struct.Struct("<d"),  # float64
}
_U32 = struct.Struct("<I").unpack_from
_U64 = struct.Struct("<Q").unpack_from


@dataclass(frozen=True)
class ArrayInfo:
    """A metadata array that was skimmed: its element type and length, not its items."""

    item_type: str
    length: int

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return f"<array of {self.length} {self.item_type}>"


@dataclass
class GGUFInfo:
    """What the header of a GGUF file says; the weights are not read."""

    path: Path
    size_bytes: int
    version: int
    architecture: str | None
    name: str | None
    n_params: int
    quantization: str | None
    context_length: int | None
    chat_template: str | None
    metadata: dict[str, Any] = field(repr=False)
    tensor_count: int = 0
    alignment: int = DEFAULT_ALIGNMENT
    data_offset: int = 0
    tensor_types: dict[str, int] = field(default_factory=dict)  # type name -> tensor count

    @property
    def vocab_size(self) -> int | None:
        tokens = self.metadata.get("tokenizer.ggml.tokens")
        return len(tokens) if isinstance(tokens, (ArrayInfo, list)) else None

    @property
    def params_human(self) -> str:
        return format_count(self.n_params)

    @property
    def size_human(self) -> str:
        return format_size(self.size_bytes)

    def rows(self) -> list[tuple[str, str]]:
        """Label/value pairs for `oruel models info`, in display order."""
        if self.chat_template:
            template = f"yes ({len(self.chat_template):,} characters)"
        else:
            template = "none"
        rows = [
            ("name", self.name or "-"),
            ("architecture", self.architecture or "unknown"),
            ("parameters", self.params_human),
            ("quantization", self.quantization or "unknown"),
            ("context length", str(self.context_length) if self.context_length else "unknown"),
            ("chat template", template),
        ]
        if self.vocab_size is not None:
            rows.append(("vocabulary", f"{self.vocab_size} tokens"))
        rows += [
            ("size", self.size_human),
            ("tensors", str(self.tensor_count)),
            ("GGUF version", str(self.version)),
            ("path", str(self.path)),
        ]
        return rows


def format_count(n: int) -> str:
    """134515008 -> '134.5M' (K, M, B, T; decimal)."""
    for div, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if n >= div:
            return f"{n / div:.1f}{suffix}"
    return str(n)


def format_size(n: int) -> str:
    """98626848 -> '98.6 MB' (decimal units, as ollama and most download pages)."""
    for div, suffix in ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB")):
        if n >= div:
            return f"{n / div:.1f} {suffix}"
    return f"{n} B"


class _Truncated(Exception):
    pass


class _Corrupt(Exception):
    pass


class _Reader:
    """Sequential little-endian reads over a bytes-like buffer (an mmap)."""

    __slots__ = ("buf", "pos", "size")

    def __init__(self, buf: Any, size: int, pos: int = 0) -> None:
        self.buf = buf
        self.size = size
        self.pos = pos

    def u32(self) -> int:
        v = _U32(self.buf, self.pos)[0]
        self.pos += 4
        return v

    def u64(self) -> int:
        v = _U64(self.buf, self.pos)[0]
        self.pos += 8
        return v

    def string(self) -> str:
        n = _U64(self.buf, self.pos)[0]
        start = self.pos + 8
        end = start + n
        if end > self.size:
            raise _Truncated
        self.pos = end
        return bytes(self.buf[start:end]).decode("utf-8", "replace")

    def value(self, vtype: int, skim: bool) -> Any:
        sc = _SCALARS.get(vtype)
        if sc is not None:
            v = sc.unpack_from(self.buf, self.pos)[0]
            self.pos += sc.size
            return v
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            item_type = self.u32()
            n = self.u64()
            if item_type not in VALUE_TYPE_NAMES:
                raise _Corrupt(f"unknown array element type {item_type}")
            if skim or n > KEEP_ARRAY_MAX:
                self.skip_items(item_type, n)
                return ArrayInfo(VALUE_TYPE_NAMES[item_type], n)
            isc = _SCALARS.get(item_type)
            if isc is not None:
                fmt = "<" + str(n) + isc.format[-1]
                items = list(struct.unpack_from(fmt, self.buf, self.pos))
                self.pos += n * isc.size
                return items
            return [self.value(item_type, False) for _ in range(n)]
        raise _Corrupt(f"unknown value type {vtype}")

    def skip_items(self, item_type: int, n: int) -> None:
        sc = _SCALARS.get(item_type)
        if sc is not None:
            self.pos += n * sc.size
            if self.pos > self.size:
                raise _Truncated
        elif item_type == _STRING:
            # The hot loop of a header read: ~100k tokens and merges in a vocabulary.
            buf, pos, u64 = self.buf, self.pos, _U64
            for _ in range(n):
                pos += 8 + u64(buf, pos)[0]
            if pos > self.size:
                raise _Truncated
            self.pos = pos
        elif item_type == _ARRAY:
            for _ in range(n):
                sub_type = self.u32()
                sub_n = self.u64()
                if sub_type not in VALUE_TYPE_NAMES:
                    raise _Corrupt(f"unknown array element type {sub_type}")
                self.skip_items(sub_type, sub_n)
        else:
            raise _Corrupt(f"unknown array element type {item_type}")


def check_gguf(path: str | os.PathLike[str]) -> GGUFInfo:
    """Read and check a GGUF file's header; raise RuntimeFailure (one line) if it is unusable."""
    p = Path(path)
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise RuntimeFailure(f"model file not found: {p}") from None
    except OSError as e:
        raise RuntimeFailure(f"{p}: cannot read: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise RuntimeFailure(f"{p}: is a directory, not a GGUF file")
    if not stat.S_ISREG(st.st_mode):
        raise RuntimeFailure(f"{p}: not a regular file, not a GGUF file")
    size = st.st_size
    try:
        with open(p, "rb") as f:
            head = f.read(4)
            _check_magic(p, head, size)
            try:
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # a file system without mmap
                f.seek(0)
                data = f.read()
                return _parse(p, data, len(data))
            with mm:
                return _parse(p, mm, size)
    except OSError as e:
        raise RuntimeFailure(f"{p}: cannot read: {e.strerror or e}") from None


def _check_magic(p: Path, head: bytes, size: int) -> None:
    if size == 0:
        raise RuntimeFailure(f"{p}: not a GGUF file (empty file)")
    if head == GGUF_MAGIC:
        return
    if len(head) < 4 and GGUF_MAGIC.startswith(head):
        raise RuntimeFailure(f"{p}: truncated GGUF file (cut in the header: {size} bytes)")
    raise RuntimeFailure(f"{p}: not a GGUF file (bad magic)")


def _parse(p: Path, buf: Any, size: int) -> GGUFInfo:
    r = _Reader(buf, size, pos=4)
    section = "header"
    try:
        version = r.u32()
        if version not in SUPPORTED_VERSIONS:
            swapped = int.from_bytes(version.to_bytes(4, "little"), "big")
            if swapped in SUPPORTED_VERSIONS:
                raise RuntimeFailure(f"{p}: big-endian GGUF files are not supported")
            raise RuntimeFailure(
                f"{p}: unsupported GGUF version {version} (oruel reads versions 2 and 3)"
            )
        n_tensors = r.u64()
        n_kv = r.u64()

        section = "metadata"
        meta: dict[str, Any] = {}
        for _ in range(n_kv):
            key = r.string()
            vtype = r.u32()
            if key in meta:
                raise _Corrupt(f"duplicate metadata key {key!r}")
            try:
                meta[key] = r.value(vtype, key.startswith(SKIM_PREFIXES))
            except _Corrupt as e:
                raise _Corrupt(f"{e} for key {key!r}") from None

        alignment = meta.get("general.alignment", DEFAULT_ALIGNMENT)
        if (
            not isinstance(alignment, int)
            or isinstance(alignment, bool)
            or alignment <= 0
            or alignment & (alignment - 1)
        ):
            raise _Corrupt(f"general.alignment {alignment!r} is not a power of two")

        section = "tensor infos"
        n_params = 0
        data_end = 0  # end of the furthest tensor's data, relative to the data section
        counts: Counter[int] = Counter()
        weight_counts: Counter[int] = Counter()  # tensors of 2 or more dimensions
        names: set[str] = set()
        for _ in range(n_tensors):
            tname = r.string()
            n_dims = r.u32()
            if n_dims > MAX_DIMS:
                raise _Corrupt(f"tensor {tname!r} has {n_dims} dimensions (at most {MAX_DIMS})")
            dims = struct.unpack_from(f"<{n_dims}Q", buf, r.pos)
            r.pos += 8 * n_dims
            ttype = r.u32()
            offset = r.u64()
            if tname in names:
                raise _Corrupt(f"duplicate tensor {tname!r}")
            names.add(tname)
            ne = 1
            for d in dims:
                ne *= d
            n_params += ne
            counts[ttype] += 1
            if n_dims >= 2:
                weight_counts[ttype] += 1
            if offset % alignment:
                raise _Corrupt(f"tensor {tname!r} data offset {offset} is not aligned")
            t = GGML_TYPES.get(ttype)
            if t is None:
                continue  # unknown type: its size is unknown, skip the length check
            _, block, type_size = t
            if dims and dims[0] % block:
                raise _Corrupt(
                    f"tensor {tname!r}: row of {dims[0]} is not a multiple of "
                    f"{t[0]}'s block of {block}"
                )
            data_end = max(data_end, offset + ne // block * type_size)
    except (_Truncated, struct.error):
        raise RuntimeFailure(
            f"{p}: truncated GGUF file (cut in the {section}: the file has only {size:,} bytes)"
        ) from None
    except _Corrupt as e:
        raise RuntimeFailure(f"{p}: corrupt GGUF {section} ({e})") from None

    data_offset = -(-r.pos // alignment) * alignment
    if n_tensors and data_offset + data_end > size:
        raise RuntimeFailure(
            f"{p}: truncated GGUF file (the tensor data needs {data_offset + data_end:,} bytes, "
            f"the file has {size:,})"
        )

    arch = _str_or_none(meta.get("general.architecture"))
    ctx = meta.get(f"{arch}.context_length") if arch else None
    return GGUFInfo(
        path=p,
        size_bytes=size,
        version=version,
        architecture=arch,
        name=_str_or_none(meta.get("general.name")),
        n_params=n_params,
        quantization=quantization_name(meta.get("general.file_type"), weight_counts or counts),
        context_length=ctx if isinstance(ctx, int) and not isinstance(ctx, bool) else None,
        chat_template=_str_or_none(meta.get("tokenizer.chat_template")),
        metadata=meta,
        tensor_count=n_tensors,
        alignment=alignment,
        data_offset=data_offset,
        tensor_types={ggml_type_name(t): c for t, c in counts.most_common()},
    )


def _str_or_none(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None
