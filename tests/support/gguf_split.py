"""Split a GGUF file the way llama.cpp's `gguf-split` does, for the stand-in hub's split model.

Each part is a GGUF file of its own: the first keeps all the metadata, every
part has `split.no`, `split.count` and `split.tensors.count`, and the tensors
are shared out in file order, each part's data section holding its own. A
file cut into byte ranges would not load: llama.cpp opens every part as GGUF.
"""

from __future__ import annotations

import struct
from pathlib import Path

from oruel_cli.models.gguf import DEFAULT_ALIGNMENT, _Reader, check_gguf

_U16, _I32 = 2, 5  # GGUF value types


def _kv(key: str, vtype: int, value: int) -> bytes:
    k = key.encode()
    fmt = "<H" if vtype == _U16 else "<i"
    return struct.pack("<Q", len(k)) + k + struct.pack("<I", vtype) + struct.pack(fmt, value)


def _split_kvs(no: int, count: int, tensors: int) -> bytes:
    return (
        _kv("split.no", _U16, no)
        + _kv("split.count", _U16, count)
        + _kv("split.tensors.count", _I32, tensors)
    )


def split_gguf(path: Path, parts: int) -> list[bytes]:
    """The bytes of each of `parts` GGUF parts of the model at `path`."""
    info = check_gguf(path)
    data = path.read_bytes()
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    r = _Reader(data, len(data), pos=24)
    for _ in range(n_kv):
        r.string()
        r.value(r.u32(), skim=True)
    kv_bytes = data[24 : r.pos]
    tensors = []  # (name, n_dims, dims, type, offset)
    for _ in range(n_tensors):
        name = r.string()
        n_dims = r.u32()
        dims = struct.unpack_from(f"<{n_dims}Q", data, r.pos)
        r.pos += 8 * n_dims
        ttype = r.u32()
        offset = r.u64()
        tensors.append((name, n_dims, dims, ttype, offset))
    align = info.alignment
    base = info.data_offset
    order = sorted(tensors, key=lambda t: t[4])
    ends = [t[4] for t in order[1:]] + [len(data) - base]
    sized = [(t, end - t[4]) for t, end in zip(order, ends, strict=True)]
    per = -(-len(sized) // parts)
    out = []
    for i in range(parts):
        group = sized[i * per : (i + 1) * per]
        kvs = _split_kvs(i, parts, n_tensors)
        count_kv = 3
        if i == 0:
            kvs, count_kv = kv_bytes + kvs, n_kv + 3
        elif align != DEFAULT_ALIGNMENT:
            a = b"general.alignment"
            kvs += struct.pack("<Q", len(a)) + a + struct.pack("<II", 4, align)
            count_kv += 1
        infos = b""
        blob = b""
        for (name, n_dims, dims, ttype, offset), size in group:
            nb = name.encode()
            infos += struct.pack("<Q", len(nb)) + nb + struct.pack("<I", n_dims)
            infos += struct.pack(f"<{n_dims}Q", *dims) + struct.pack("<IQ", ttype, len(blob))
            blob += data[base + offset : base + offset + size]
            blob += b"\0" * (-len(blob) % align)
        head = b"GGUF" + struct.pack("<IQQ", version, len(group), count_kv) + kvs + infos
        head += b"\0" * (-len(head) % align)
        out.append(head + blob)
    return out
