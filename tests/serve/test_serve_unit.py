"""`oruel serve`'s pieces without a model: request checks, model routing,
the queue's Retry-After, chunk shapes, errors, the command's usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from oruel_cli.batch.reader import parse_line
from oruel_cli.config import Config, TierProfile
from oruel_cli.engine.loader import Target
from oruel_cli.engine.reply import Completion
from oruel_cli.params.layering import ParamResolver
from oruel_cli.runtime import RuntimeSettings
from oruel_cli.serve.errors import ApiError, error_body
from oruel_cli.serve.models import Registry, ServedModel
from oruel_cli.serve.request import parse_request
from oruel_cli.serve.streaming import DONE, ChunkWriter

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name in ("big", "small", "other"):
        out[name] = tmp_path / f"{name}.gguf"
        out[name].write_bytes(b"GGUF")
    return out


def make(files: dict[str, Path], **config: object) -> tuple[Registry, ParamResolver]:
    cfg = Config(aliases={"llama-4-maverick": str(files["big"])}, **config)  # type: ignore[arg-type]
    models = [
        ServedModel("llama-4-maverick", Target(files["big"], RuntimeSettings()), 2, 3),
        ServedModel(str(files["small"]), Target(files["small"], RuntimeSettings()), 2, 3),
    ]
    return Registry(cfg, models), ParamResolver(cfg, None, {})


def call(registry: Registry, resolver: ParamResolver, **body: object):  # noqa: ANN201
    body.setdefault("messages", USER)
    return parse_request(json.dumps(body).encode(), registry, resolver)


def api_error(
    registry: Registry, resolver: ParamResolver, raw: bytes | None = None, **body: object
) -> ApiError:
    with pytest.raises(ApiError) as info:
        if raw is not None:
            parse_request(raw, registry, resolver)
        else:
            call(registry, resolver, **body)
    return info.value


def test_a_request_names_a_model_as_model_does(files):
    reg, res = make(files)
    assert call(reg, res).model.id == "llama-4-maverick"  # none given: the first
    c = call(reg, res, model="llama-4-maverick")
    assert c.model_name == "llama-4-maverick" and c.model is reg.models[0]
    assert call(reg, res, model=str(files["big"])).model is reg.models[0]  # its path
    assert call(reg, res, model=str(files["small"])).model is reg.models[1]
    for name in ("gpt-4o", str(files["other"]), "/etc/passwd", "../x.gguf"):
        e = api_error(reg, res, model=name)
        assert e.status == 404 and e.param == "model" and e.code == "model_not_found"
        assert "does not exist or is not loaded" in e.message  # the same whatever is on disk


def test_a_tier_routes_to_its_profile_model_which_must_be_loaded(files):
    reg, res = make(
        files, tiers={"turbo": TierProfile(model=str(files["small"]), params={"max_tokens": 7})}
    )
    c = call(reg, res, model="llama-4-maverick", tier="turbo")
    assert c.model is reg.models[1] and c.model_name == reg.models[1].id
    assert c.params.max_tokens == 7  # the profile's params
    assert call(reg, res, model="llama-4-maverick").model is reg.models[0]
    reg, res = make(files, tiers={"turbo": TierProfile(model="small-fast")})
    e = api_error(reg, res, tier="turbo")
    assert e.status == 400 and e.param == "tier" and "small-fast" in e.message


def test_values_are_checked_by_the_parameter_model_strictly(files):
    reg, res = make(files)
    for fields, param in [
        ({"temperature": "0.5"}, "temperature"), ({"top_k": True}, "top_k"),
        ({"max_tokens": 0}, "max_tokens"), ({"repeat_penalty": 9.0}, "repeat_penalty"),
        ({"max_completion_tokens": 0}, "max_completion_tokens"), ({"n": 3}, "n"),
        ({"logit_bias": {"1": 500}}, "logit_bias"), ({"functions": []}, "functions"),
        ({"preset": "nope"}, "preset"), ({"tool_choice": "required"}, "tool_choice"),
        ({"stream_options": []}, "stream_options"), ({"cache_prompt": False}, "cache_prompt"),
        ({"model": 3}, "model"), ({"messages": [{"role": "robot", "content": "x"}]}, "messages"),
    ]:  # fmt: skip
        e = api_error(reg, res, **fields)
        assert e.status == 400 and e.param == param, (fields, e.message)
        assert param in e.message, e.message
    e = api_error(reg, res, repeat_penalty=9.0)
    assert "invalid repetition_penalty 9.0" in e.message and "alias" in e.message


def test_aliases_ignored_fields_and_stream_options(files):
    reg, res = make(files)
    c = call(reg, res, repeat_penalty=1.2, max_completion_tokens=5, logprobs=False, user="u",
             metadata={}, store=True, service_tier="auto", parallel_tool_calls=False, n=1)  # fmt: skip
    assert c.params.repetition_penalty == 1.2 and c.params.max_tokens == 5
    assert not c.stream and not c.include_usage
    c = call(reg, res, stream=True, stream_options={"include_usage": True, "other": 1})
    assert c.stream and c.include_usage
    assert (
        call(reg, res, repetition_penalty=1.2, repeat_penalty=1.2).params.repetition_penalty == 1.2
    )


def test_bodies_that_are_not_json_objects(files):
    reg, res = make(files)
    for raw, words in [
        (b"{", "not valid JSON"), (b"[1]", "an array"), (b'"x"', "a string"),
        (b"3", "a single value"), (b'{"temperature": Infinity}', "not valid JSON"),
        (b"\xff", "not UTF-8"),
    ]:  # fmt: skip
        e = api_error(reg, res, raw)
        assert e.status == 400 and words in e.message and e.code == "invalid_json"


def test_batch_form_3_accepts_and_refuses_the_same_fields():
    def line(**body: object):  # noqa: ANN202
        body.setdefault("messages", USER)
        obj = {"custom_id": "r", "method": "POST", "url": "/v1/chat/completions", "body": body}
        return parse_line(json.dumps(obj), 1)

    assert line(repeat_penalty=1.3).params == {"repetition_penalty": 1.3}
    assert line(logprobs=True, top_logprobs=2, logit_bias={"5": -100}).error is None
    bad = line(prediction={"type": "content", "content": "x"})
    assert bad.error is not None and bad.error.code == "invalid_parameter"
    assert "body.prediction" in bad.error.message
    assert line(repeat_penalty=1.3, repetition_penalty=1.2).error is not None


def test_a_full_queue_says_when_to_retry():
    m = ServedModel("m", Target(Path("m.gguf"), RuntimeSettings()), n_slots=2, queue_max=3)
    m.backend = SimpleNamespace(driver=SimpleNamespace(pending=4, running=2))
    m.check_room()  # 2 running, 2 waiting: room for one more
    m.backend.driver.pending = 5
    m.avg_seconds = 2.0
    with pytest.raises(ApiError) as info:
        m.check_room()
    e = info.value
    assert e.status == 429 and e.headers["Retry-After"] == "4"  # (3 waiting + 1) x 2 s / 2 slots
    m.avg_seconds = 0.01
    with pytest.raises(ApiError) as info:
        m.check_room()
    assert info.value.headers["Retry-After"] == "1"  # at least a second


def test_chunks_follow_openai():
    w = ChunkWriter("chatcmpl-1", "m", 123, include_usage=True)
    role = json.loads(w.role()[6:])
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert role["usage"] is None and role["id"] == "chatcmpl-1"
    comp = Completion("chatcmpl-1", "m", "hi", "tool_calls", 3, 2, 0.1,
                      tool_calls=[{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}])  # fmt: skip
    text, calls = (json.loads(x[6:]) for x in w.whole(comp))
    assert text["choices"][0]["delta"] == {"content": "hi"}
    assert calls["choices"][0]["delta"]["tool_calls"][0]["index"] == 0
    end, usage, done = w.end(comp)
    assert json.loads(end[6:])["choices"][0]["finish_reason"] == "tool_calls"
    assert (
        json.loads(usage[6:])["choices"] == []
        and json.loads(usage[6:])["usage"]["total_tokens"] == 5
    )
    assert done == DONE
    assert len(ChunkWriter("x", "m", 1, include_usage=False).end(comp)) == 2


def test_errors_are_in_openai_shape():
    assert error_body(404, "no")["error"] == {
        "message": "no", "type": "invalid_request_error", "param": None, "code": None,
    }  # fmt: skip
    assert error_body(429, "busy")["error"]["type"] == "rate_limit_error"
    assert error_body(503, "down")["error"]["type"] == "server_error"


def oruel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oruel_cli", *args], capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_usage_errors_exit_2_before_anything_starts():
    for args, words in [
        (["--parallel", "0"], "--parallel"), (["--queue", "x"], "--queue"),
        (["--port", "70000"], "--port"), (["--shutdown-timeout", "nan"], "--shutdown-timeout"),
        (["--host", "::", "--port", "0"], "API key"), (["--model", "no-such-model"], "no-such-model"),
        (["--ctx", "1"], "--ctx"),
    ]:  # fmt: skip
        proc = oruel("serve", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_serve_help_imports_neither_llama_cpp_nor_the_server():
    code = (
        "import sys\nfrom oruel_cli.cli.main import app\n"
        "try:\n    app(['serve', '--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "print([m for m in ('llama_cpp', 'uvicorn', 'starlette') if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--shutdown-timeout" in proc.stdout, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_a_prompt_too_long_is_400_by_its_type_not_by_its_words():
    """ContextTooLong (both sizes) is 400 context_length_exceeded; another
    failure that happens to say "the prompt is N tokens" is a 500."""
    import asyncio

    from oruel_cli.engine.engine import check_prompt_fits
    from oruel_cli.errors import ContextTooLong, RuntimeFailure
    from oruel_cli.serve.chat import _prepare

    with pytest.raises(ContextTooLong) as info:
        check_prompt_fits(512, 512)
    too_long = info.value
    assert (too_long.tokens, too_long.ctx, too_long.exit_code) == (512, 512, 1)
    assert str(too_long) == (
        "the prompt is 512 tokens; it does not fit the context of 512 tokens per sequence "
        "(raise --ctx, or shorten the prompt)"
    )
    check_prompt_fits(511, 512)  # room for one token: it fits

    def call_raising(e: Exception) -> SimpleNamespace:
        def prepare(*args: object, **kw: object) -> None:
            raise e

        return SimpleNamespace(model=SimpleNamespace(backend=SimpleNamespace(prepare=prepare)),
                               messages=USER, params=None, system=None, template_kwargs={})  # fmt: skip

    with pytest.raises(ApiError) as err:
        asyncio.run(_prepare(call_raising(too_long), "chatcmpl-1"))  # type: ignore[arg-type]
    assert (err.value.status, err.value.code, err.value.param) == (
        400, "context_length_exceeded", "messages",
    )  # fmt: skip
    assert err.value.message == str(too_long)
    worded = RuntimeFailure("the prompt is 9 tokens, said a template")
    with pytest.raises(ApiError) as err:
        asyncio.run(_prepare(call_raising(worded), "chatcmpl-1"))  # type: ignore[arg-type]
    assert (err.value.status, err.value.code) == (500, "server_error")
