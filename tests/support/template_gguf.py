"""A copy of a GGUF file with another chat template (`tokenizer.chat_template`),
so the real CLI can be run on each corpus template with the default model's
vocabulary. The header is rewritten with the `gguf` package's reader telling
where each part lies (read once per source file: the reader takes seconds over a
49,152-token vocabulary); the tensor data is copied unchanged, re-aligned."""

from __future__ import annotations

import shutil
import struct
from functools import cache
from pathlib import Path

from gguf import GGUFReader

from oruel_cli.models.resolve import embedded_model_path

KEY = "tokenizer.chat_template"
_STRING = 8  # GGUF's value type for a string


def _string_field(key: str, value: str) -> bytes:
    k, v = key.encode(), value.encode("utf-8")
    return struct.pack("<Q", len(k)) + k + struct.pack("<IQ", _STRING, len(v)) + v


@cache
def _layout(src: Path) -> tuple[int, int, int, int, int]:
    """(template field start, its end, end of the tensor infos, data offset, alignment)."""
    reader = GGUFReader(src)
    field = reader.fields[KEY]
    start = field.offset
    end = start + sum(p.nbytes for p in field.parts)
    infos_end = max(t.field.offset + sum(p.nbytes for p in t.field.parts) for t in reader.tensors)
    return start, end, infos_end, reader.data_offset, reader.alignment


def with_template(src: Path, dst: Path, template: str) -> Path:
    start, end, infos_end, data_offset, align = _layout(Path(src))
    with open(src, "rb") as f, open(dst, "wb") as out:
        head = f.read(infos_end)
        header = head[:start] + _string_field(KEY, template) + head[end:]
        out.write(header)
        out.write(b"\0" * (-len(header) % align))
        f.seek(data_offset)
        shutil.copyfileobj(f, out, 1 << 22)
    return dst


def with_chat_template(path, template: bytes):
    """A copy of the embedded model at `path` whose chat template is `template`,
    padded with a Jinja comment to the original's length (so no offset moves)."""
    from oruel_cli.models.gguf import check_gguf

    src = embedded_model_path()
    old = check_gguf(src).chat_template.encode()
    pad = len(old) - len(template) - len(b"{##}")
    assert pad >= 0
    data = src.read_bytes()
    assert data.count(old) == 1
    path.write_bytes(data.replace(old, template + b"{#" + b" " * pad + b"#}"))
    return path
