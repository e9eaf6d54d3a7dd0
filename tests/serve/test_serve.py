"""`oruel serve` on the real model, driven by the official `openai` client.

One server for the module: the default --parallel (4), `--ctx 128` per slot.
The small context keeps the reference page's long calls (max_tokens=4096, or
no max_tokens at all) affordable while they run unchanged: a reply stops at
the context's end with finish_reason "length", as the reference says it
should. "llama-4-maverick" is a config alias of the embedded model.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from support import reference_calls
from support.serve_proc import Server, Stream, oruel_cmd, serve_env
from support.shared_data import EDGES, PROMPTS

pytestmark = pytest.mark.model

CTX = 128
ALIAS = "llama-4-maverick"
TURBO_MAX_TOKENS = 48
CONFIG = {
    "aliases": {ALIAS: "default"},
    "tiers": {"turbo": {"params": {"max_tokens": TURBO_MAX_TOKENS}}},
}
USER = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return serve_env(tmp_path_factory.mktemp("serve-env"), CONFIG)


@pytest.fixture(scope="module")
def server(env, tmp_path_factory):
    srv = Server(["--ctx", str(CTX)], env, tmp_path_factory.mktemp("serve-cwd"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    return server.client()


def test_every_call_of_the_reference_page_runs_unchanged(server, client):
    with ThreadPoolExecutor(4) as pool:
        done = pool.map(lambda f: f(client), reference_calls.CALLS)
        replies = {f.__name__: r for f, r in zip(reference_calls.CALLS, done, strict=True)}
    for name, r in replies.items():
        choice = r.choices[0]
        assert r.object == "chat.completion" and r.model == ALIAS, name
        assert r.id.startswith("chatcmpl-"), name
        assert choice.message.role == "assistant" and isinstance(choice.message.content, str), name
        assert choice.finish_reason in ("stop", "length"), name
        assert 1 <= r.usage.completion_tokens and r.usage.prompt_tokens > 0, name
        assert r.usage.prompt_tokens + r.usage.completion_tokens <= CTX, name
    assert replies["max_tokens_short"].usage.completion_tokens <= 50
    # max_tokens 4096 over a context of 128 is taken, and capped at the context's
    # end; sampled at the default temperature, the reply may also end before it
    long = replies["max_tokens_long"]
    if long.choices[0].finish_reason == "length":
        assert long.usage.total_tokens == CTX
    assert "\n\n" not in replies["stop_marker"].choices[0].message.content
    assert "\n4." not in replies["stop_marker"].choices[0].message.content
    assert "```" not in replies["stop_code_block"].choices[0].message.content
    fmt = replies["response_format"].choices[0]
    if fmt.finish_reason == "stop":
        json.loads(fmt.message.content)  # grammar-constrained: it parses
    assert replies["tier"].usage.completion_tokens <= TURBO_MAX_TOKENS  # the turbo profile's
    # "Deterministic — always the same answer" (each alone: no batch around it)
    a, b = (reference_calls.temperature_deterministic(client) for _ in range(2))
    assert a.choices[0].message.content == b.choices[0].message.content


def test_a_max_tokens_past_the_context_stops_at_its_end(client):
    """The reference's long call, greedy (its reply runs past 300 tokens): the
    context's end cuts it, with finish_reason length."""
    r = client.chat.completions.create(
        model=ALIAS,
        messages=[{"role": "user", "content": "Write a detailed tutorial on Docker."}],
        max_tokens=4096,
        temperature=0,
    )
    assert r.choices[0].finish_reason == "length"
    assert r.usage.total_tokens == CTX


def test_a_greedy_reply_equals_oruel_ask(server, client, env):
    r = client.chat.completions.create(model=ALIAS, messages=USER, temperature=0, max_tokens=24)
    ask = subprocess.run(
        oruel_cmd("ask", "-m", ALIAS, "--temperature", "0", "--max-tokens", "24", USER[0]["content"]),
        env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert ask.returncode == 0, ask.stderr
    assert r.choices[0].message.content == ask.stdout.removesuffix("\n")


def test_streamed_deltas_join_to_the_whole_reply_in_openai_chunks(server, client):
    kw = dict(model=ALIAS, messages=USER, temperature=0, max_tokens=40)
    whole = client.chat.completions.create(**kw)
    chunks = list(
        client.chat.completions.create(**kw, stream=True, stream_options={"include_usage": True})
    )
    assert len({c.id for c in chunks}) == 1
    assert all(c.object == "chat.completion.chunk" and c.model == ALIAS for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    *body, last, usage = chunks
    assert all(c.choices and c.choices[0].finish_reason is None for c in body)
    assert last.choices[0].finish_reason == whole.choices[0].finish_reason
    assert usage.choices == [] and usage.usage.completion_tokens == whole.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])
    text = "".join(c.choices[0].delta.content or "" for c in body + [last])
    assert text == whole.choices[0].message.content

    raw = Stream(server, {**kw, "stream": True})  # no include_usage: no usage chunk
    events = list(raw.events())
    raw.close()
    assert raw.status == 200 and events[-1] == "[DONE]"
    assert all("usage" not in e and e["choices"] for e in events[:-1])
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1]) == text


def _bad_cases() -> list[tuple[dict, str]]:
    """(fields, the param the 400 must name): every parameter out of range or of the
    wrong type, as the reference's own examples send them (extra fields in extra_body)."""
    cases: list[tuple[dict, str]] = []
    for name, (_, _, below, above) in EDGES.items():
        num = (lambda s: int(s)) if name in ("top_k", "seed", "max_tokens") else float
        cases += [({name: num(below)}, name), ({name: num(above)}, name)]
    cases += [
        ({"temperature": "0.5"}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"top_k": 1.5}, "top_k"),
        ({"seed": "42"}, "seed"),
        ({"max_tokens": 10.0}, "max_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stop": 7}, "stop"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"tools": [{"type": "nope"}]}, "tools"),
        ({"tool_choice": "required"}, "tool_choice"),  # no tools
        ({"tier": "fast"}, "tier"),
        ({"stream": "yes"}, "stream"),
        ({"repeat_penalty": 5.0}, "repeat_penalty"),
        ({"repetition_penalty": 1.1, "repeat_penalty": 1.2}, "repeat_penalty"),
        ({"max_tokens": 5, "max_completion_tokens": 6}, "max_completion_tokens"),
        ({"n": 2}, "n"),
        ({"logprobs": 1}, "logprobs"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),  # without logprobs
        ({"logit_bias": {"50256": -101}}, "logit_bias"),
        ({"logit_bias": {"99999999": -100}}, "logit_bias"),  # not in the vocabulary
        ({"preset": "no-such-preset"}, "preset"),
        ({"stream_options": {"include_usage": "yes"}}, "stream_options"),
        ({"temprature": 0.5}, "temprature"),
        ({"messages": []}, "messages"),
    ]
    return cases


def test_each_bad_value_is_400_naming_the_parameter(server, client):
    for fields, param in _bad_cases():
        kw = {"model": ALIAS, "messages": USER, "extra_body": fields}
        if "messages" in fields:
            kw["messages"] = fields.pop("messages")
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(**kw)
        e = info.value
        assert e.status_code == 400 and e.param == param, (fields, e.body)
        assert param in e.message and e.type == "invalid_request_error", e.message


def test_fields_clients_send_are_accepted_or_ignored(server, client):
    r = client.chat.completions.create(
        model=ALIAS, messages=USER, max_completion_tokens=3, n=1, user="u-1",
        metadata={"k": "v"}, store=False, service_tier="auto", parallel_tool_calls=True,
        logprobs=False, stream_options={"include_usage": True},
        extra_body={"repeat_penalty": 1.1, "repetition_penalty": 1.1, "logit_bias": {}},
    )  # fmt: skip
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 3


def test_a_preset_by_name_and_a_model_left_out(server):
    status, _, body = server.request(
        "POST", "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "I love it! Labels: positive, negative"}],
         "preset": "classification"},
    )  # fmt: skip
    reply = json.loads(body)
    assert status == 200 and reply["usage"]["completion_tokens"] <= 10  # the preset's max_tokens
    assert reply["model"] == "default"  # no model given: the first loaded answers


def test_models_and_an_unknown_model(server, client):
    assert [m.id for m in client.models.list().data] == ["default"]
    assert client.models.retrieve(ALIAS).id == ALIAS  # a name that resolves to it
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert info.value.param == "model" and "gpt-4o" in info.value.message
    assert (
        client.chat.completions.create(model="default", messages=USER, max_tokens=1).model
        == "default"
    )


def _error(body: bytes) -> dict:
    err = json.loads(body)["error"]
    assert set(err) == {"message", "type", "param", "code"}
    return err


def test_every_http_error_is_in_openai_shape(server):
    post = "/v1/chat/completions"
    status, _, body = server.request("GET", "/v1/nothing")
    assert status == 404 and "/v1/nothing" in _error(body)["message"]
    status, headers, body = server.request("GET", post)
    assert status == 405 and "POST" in headers.get("allow", "") and _error(body)
    status, _, body = server.request("POST", post, b"{not json")
    assert status == 400 and "not valid JSON" in _error(body)["message"]
    status, _, body = server.request("POST", post, b'{"temperature": NaN}')
    assert status == 400 and _error(body)["code"] == "invalid_json"
    for value in ([USER], "text", 3):
        status, _, body = server.request("POST", post, value)
        assert status == 400 and "not a JSON object" in _error(body)["message"]
    status, _, body = server.request("POST", post, b" " * (9 * 1024 * 1024))
    assert status == 413 and "8 MiB" in _error(body)["message"]
    long = [{"role": "user", "content": "word " * 400}]
    status, _, body = server.request("POST", post, {"messages": long})
    err = _error(body)
    assert status == 400 and err["code"] == "context_length_exceeded"
    m = re.search(r"the prompt is (\d+) tokens.* context of (\d+) tokens", err["message"])
    assert m and int(m.group(1)) > CTX and int(m.group(2)) == CTX, err["message"]
    assert server.request("GET", "/health")[0] == 200


def test_sixteen_concurrent_clients_are_all_answered(server, client):
    def one(i: int) -> str:
        r = client.chat.completions.create(
            model=ALIAS, messages=[{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
            max_tokens=8, seed=i,
        )  # fmt: skip
        return r.choices[0].finish_reason

    with ThreadPoolExecutor(16) as pool:
        reasons = list(pool.map(one, range(16)))
    assert len(reasons) == 16 and set(reasons) <= {"stop", "length"}


def test_clients_that_drop_long_streams_leave_the_server_free(server, client):
    # A grammar that needs hundreds of items: each reply runs to the context's end.
    long = {
        "model": ALIAS, "stream": True,
        "messages": [{"role": "user", "content": "Numbers, please."}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {
            "type": "array", "items": {"type": "integer"}, "minItems": 200}}},
    }  # fmt: skip
    stays = dict(long, max_tokens=30, stream_options={"include_usage": True})
    running = [Stream(server, long) for _ in range(3)] + [Stream(server, stays)]
    for s in running:
        s.first_text()  # decoding in a slot
    queued = [Stream(server, long) for _ in range(2)]  # all 4 slots taken: these wait
    assert all(s.status == 200 for s in running + queued)
    ids = [next(s.events())["id"] for s in queued]  # the role chunk comes at once
    stayer = running.pop()
    for s in running + queued:
        s.close()
    r = client.chat.completions.create(model=ALIAS, messages=USER, max_tokens=4)
    assert r.choices[0].finish_reason == "length"  # answered: the slots were freed
    *_, end, usage, done = stayer.events()  # the others' cancels did not touch it
    stayer.close()
    assert end["choices"][0]["finish_reason"] == "length" and done == "[DONE]"
    assert usage["usage"]["completion_tokens"] == 30
    for rid in ids:  # the queued ones ended without a token, cancelled
        line = server.wait_log(rf"{rid} .*status=499")
        assert "finish=cancelled" in line and "completion=0" in line, line
    gone = [ln for ln in server.lines if "status=499" in ln and "finish=cancelled" in ln]
    assert len(gone) >= 5, server.log()
    deadline = time.monotonic() + 60
    while (
        server.metrics().get('oruel_requests_running{model="default"}')
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert server.metrics()['oruel_requests_running{model="default"}'] == 0


def test_metrics_count_what_happened(server, client):
    before = server.metrics()
    client.chat.completions.create(model=ALIAS, messages=USER, max_tokens=2)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=ALIAS, messages=USER, temperature=9)
    after = server.metrics()

    def grew(key: str) -> float:
        return after.get(key, 0) - before.get(key, 0)

    assert grew('oruel_requests_completed_total{status="200"}') == 1
    assert grew('oruel_requests_completed_total{status="400"}') == 1
    assert grew('oruel_completion_tokens_total{model="default"}') == 2
    assert grew('oruel_prompt_tokens_total{model="default"}') > 0
    assert grew('oruel_time_to_first_token_seconds_count{model="default"}') == 1
    assert after['oruel_requests_completed_total{status="404"}'] >= 1
    assert after['oruel_requests_completed_total{status="499"}'] >= 5
    assert after['oruel_requests_queued{model="default"}'] == 0
    line = server.wait_log(
        r"status=200 model=llama-4-maverick finish=length prompt=\d+ completion=2 "
    )
    assert re.search(
        r"chatcmpl-\w+ POST /v1/chat/completions .* ttft=\d+\.\d+s time=\d+\.\d+s", line
    )
