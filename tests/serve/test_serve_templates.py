"""`oruel serve` and chat templates: POST /apply-template answers the prompt a
body would give the model, as transformers renders it; chat_template_kwargs
reaches the template; a refusal that remains is a 400 naming the model. A real
server process on a loopback port serving the default GGUF copied once with
each template of the corpus."""

from __future__ import annotations

import json

import openai
import pytest
import transformers.utils.chat_template_utils as hf
from support.serve_proc import Server, serve_env
from support.template_corpus import (
    CORPUS,
    DATE_STRING,
    NEEDS_TOOLS,
    SYSTEM_AND_USER,
    WEATHER,
    expected_prompt,
    source,
)
from support.template_gguf import with_template

from oruel_cli.models.resolve import embedded_model_path

pytestmark = pytest.mark.model

BOS, EOS = "<|im_start|>", "<|im_end|>"  # the default model's vocabulary
MESSAGES = [
    {"role": "system", "content": "You answer in French."},
    {"role": "user", "content": "Hello, who are you?"},
]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("template-models")
    paths = {n: with_template(embedded_model_path(), folder / f"{n}.gguf", source(n))
             for n in CORPUS}  # fmt: skip
    yield {n: str(p) for n, p in paths.items()}
    for p in paths.values():
        p.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    env = serve_env(tmp_path_factory.mktemp("serve-env"), {})
    args = ["--ctx", "1024", "--parallel", "1"]
    for path in models.values():
        args += ["--model", path]
    srv = Server(args, env, tmp_path_factory.mktemp("serve-cwd"))
    yield srv
    srv.stop()


def hf_render(name: str, messages, **kwargs) -> str:
    rendered, _ = hf.render_jinja_template(
        conversations=[messages], chat_template=source(name), add_generation_prompt=True,
        bos_token=BOS, eos_token=EOS, **kwargs,
    )  # fmt: skip
    return rendered[0]


def apply(server, body) -> tuple[int, dict]:
    status, _, data = server.request("POST", "/apply-template", body)
    return status, json.loads(data)


def test_apply_template_answers_transformers_rendering(server, models):
    status, out = apply(server, {"model": models["qwen3"], "messages": MESSAGES})
    assert status == 200 and out == {"prompt": hf_render("qwen3", MESSAGES)}
    body = {"model": models["qwen3"], "messages": MESSAGES,
            "chat_template_kwargs": {"enable_thinking": False}}  # fmt: skip
    status, off = apply(server, body)
    assert status == 200 and off["prompt"] == hf_render("qwen3", MESSAGES, enable_thinking=False)
    assert off["prompt"] != out["prompt"]


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_apply_template_renders_every_corpus_template_as_transformers_does(server, models, name):
    body: dict = {"model": models[name], "messages": SYSTEM_AND_USER}
    tools = [WEATHER] if name in NEEDS_TOOLS else None
    if tools:
        body["tools"] = tools
    if "date_string" in CORPUS[name][3]:
        body["chat_template_kwargs"] = {"date_string": DATE_STRING}
    before = expected_prompt(name, BOS, EOS, tools)  # templates that read the clock
    status, out = apply(server, body)
    assert status == 200, out
    assert out["prompt"] in (before, expected_prompt(name, BOS, EOS, tools))


def test_chat_template_kwargs_reach_the_prompt_of_a_completion(server, models):
    client = server.client()

    def prompt_tokens(extra: dict) -> int:
        reply = client.chat.completions.create(
            model=models["qwen3"], messages=MESSAGES, max_tokens=1, temperature=0,
            extra_body=extra,
        )  # fmt: skip
        return reply.usage.prompt_tokens

    on = prompt_tokens({})
    assert prompt_tokens({"chat_template_kwargs": {"enable_thinking": False}}) > on


def test_a_system_prompt_is_folded_where_the_template_has_no_system_role(server, models):
    status, out = apply(server, {"model": models["gemma-2"], "messages": MESSAGES})
    folded = [{"role": "user", "content": "You answer in French.\n\nHello, who are you?"}]
    assert status == 200 and out["prompt"] == hf_render("gemma-2", folded)
    server.wait_log("has no system role")


def test_a_refusal_that_remains_is_400_naming_the_model(server, models):
    twice = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    with pytest.raises(openai.BadRequestError) as info:
        server.client().chat.completions.create(model=models["gemma-2"], messages=twice)
    assert "roles must alternate" in str(info.value) and "gemma-2" in str(info.value)
    status, out = apply(server, {"model": models["gemma-2"], "messages": twice})
    assert status == 400 and "roles must alternate" in out["error"]["message"]


def test_bad_chat_template_kwargs_are_400_naming_the_field(server, models):
    status, out = apply(server, {"messages": MESSAGES, "chat_template_kwargs": ["x"]})
    assert status == 400 and out["error"]["param"] == "chat_template_kwargs"
    body = {"messages": MESSAGES, "chat_template_kwargs": {"messages": []}}
    status, out = apply(server, body)
    assert status == 400 and "set by oruel itself" in out["error"]["message"]


def test_template_args_travel_to_a_remote_server(server, models):
    import subprocess
    import sys

    def prompt_tokens(*extra: str) -> int:
        res = subprocess.run(
            [sys.executable, "-m", "oruel_cli", "ask", "--endpoint", server.base_url,
             "-m", models["qwen3"], "--max-tokens", "1", "--output-json", *extra, "Hi"],
            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)["usage"]["prompt_tokens"]

    assert prompt_tokens("--template-arg", "enable_thinking=false") > prompt_tokens()
