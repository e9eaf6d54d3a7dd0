"""logprobs and logit_bias through `oruel serve` (a real process on loopback),
driven by the official openai client: whole and streamed replies agree."""

from __future__ import annotations

import json

import pytest
from support.cli_proc import oruel
from support.serve_proc import Server, serve_env

pytestmark = pytest.mark.model

STORY = [{"role": "user", "content": "Write a short story about a dragon who learns to paint."}]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = serve_env(tmp_path_factory.mktemp("lp-env"), {})
    srv = Server(["--ctx", "256", "--parallel", "2"], env, tmp_path_factory.mktemp("lp-cwd"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    return server.client()


def whole_and_streamed(client, **kw):
    kw = {"model": "default", "messages": STORY, "temperature": 0, **kw}
    whole = client.chat.completions.create(**kw)
    text, items = "", []
    for chunk in client.chat.completions.create(stream=True, **kw):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            if chunk.choices[0].logprobs is not None:
                items.extend(chunk.choices[0].logprobs.content)
    return whole, text, items


@pytest.mark.parametrize("stop", [None, "market square"])
def test_streamed_logprobs_join_to_the_whole(client, stop):
    whole, text, items = whole_and_streamed(
        client, max_tokens=36, logprobs=True, top_logprobs=2, stop=stop
    )
    content = whole.choices[0].logprobs.content
    assert text == whole.choices[0].message.content and content
    assert [t.token for t in items] == [t.token for t in content]
    for a, b in zip(items, content, strict=True):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4) and a.bytes == b.bytes
        assert [x.token for x in a.top_logprobs] == [x.token for x in b.top_logprobs]
        assert len(b.top_logprobs) == 2 and b.top_logprobs[0].token == b.token
    joined = b"".join(bytes(t.bytes) for t in content).decode()
    if stop is None:
        assert joined == text and len(content) == whole.usage.completion_tokens
    else:  # the token that opens the stop comes with the text it shows
        assert whole.choices[0].finish_reason == "stop" and joined.startswith(text)
        assert "square" not in joined


def test_no_logprobs_unless_asked(client):
    whole, _, items = whole_and_streamed(client, max_tokens=4)
    assert whole.choices[0].logprobs is None and items == []


def token_id(piece: bytes) -> int:
    """The id of the token whose text is `piece`, from the model file's vocabulary
    (loaded here without a context: nothing is decoded)."""
    from oruel_cli.engine.llama import LoadedModel
    from oruel_cli.models.resolve import embedded_model_path
    from oruel_cli.runtime import RuntimeSettings

    with LoadedModel(embedded_model_path(), RuntimeSettings()) as m:
        return next(t for t in range(m.n_vocab) if m.piece(t) == piece)


def test_a_ban_on_the_greedy_first_token_gives_the_second(client):
    whole, _, _ = whole_and_streamed(client, max_tokens=1, logprobs=True, top_logprobs=2)
    first, second = whole.choices[0].logprobs.content[0].top_logprobs[:2]
    biased = client.chat.completions.create(
        model="default", messages=STORY, temperature=0, max_tokens=1,
        logit_bias={str(token_id(bytes(first.bytes))): -100},
    )  # fmt: skip
    assert whole.choices[0].message.content == first.token
    assert biased.choices[0].message.content == second.token


def test_a_remote_backend_asks_for_logprobs_and_passes_them_on(server, client):
    whole, _, _ = whole_and_streamed(client, max_tokens=6, logprobs=True, top_logprobs=2)
    res = oruel(
        "ask", "--endpoint", server.base_url, "--no-log", "-t", "0", "--max-tokens", "6",
        "--logprobs", "2", "--output-json", STORY[0]["content"],
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)["choices"][0]["logprobs"]["content"]
    want = whole.choices[0].logprobs.content
    assert [t["token"] for t in got] == [t.token for t in want]
    assert [len(t["top_logprobs"]) for t in got] == [2] * len(want)
