"""Replies read in each family's own format, end to end on the real engine: the
default model's GGUF copied with a family's chat template (its vocabulary
stays SmolLM2's, so only the template's text changes).

- `tool_choice` required or named: the prompter finds the family's format in
  the template, the grammar makes the model write the call in that syntax
  (checked on the raw text), the reply's `tool_calls` validate against the
  tool's schema, and the follow-up turn with the tool's result renders.
- A thinking block opened by the template's generation prompt (DeepSeek's
  later R1 templates end it with `<think>\\n`) comes back as
  `reasoning_content`, apart from `content`: in `ask --output-json`, a `run`
  record and a streamed `serve` response.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jsonschema
import pytest
from support.serve_proc import Server, serve_env
from support.template_corpus import source
from support.template_gguf import with_template

from oruel_cli.backends.local import LocalBackend
from oruel_cli.engine.completion import complete
from oruel_cli.engine.loader import resolve_target
from oruel_cli.models.resolve import embedded_model_path
from oruel_cli.params.model import GenerationParams

pytestmark = pytest.mark.model

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
}
TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "The forecast.", "parameters": WEATHER},
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "The time now.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
]
ASK = [{"role": "user", "content": "What will the weather be in Oslo for 3 days?"}]

# family -> (the format the template selects, a check of the raw reply's syntax)
FAMILIES = {
    "llama-3.2": ("llama3", lambda t: t.startswith("{") and '"parameters"' in t),
    "mistral-7b-v0.3": ("mistral", lambda t: t.lstrip().startswith("[TOOL_CALLS] [")),
    "mistral-nemo": ("mistral", lambda t: t.lstrip().startswith("[TOOL_CALLS]")),
    "qwen3": ("hermes", lambda t: t.lstrip().startswith("<tool_call>")),
    "deepseek-r1-distill": (
        "deepseek-r1",
        lambda t: t.lstrip().startswith("<｜tool▁calls▁begin｜>"),
    ),
    "gpt-oss": ("gpt-oss", lambda t: "<|channel|>commentary to=functions.get_" in t),
}
# DeepSeek's later R1 templates open the thinking block in the generation prompt.
R1_GENERATION = "{{'<｜Assistant｜>'}}\n{% endif %}"


def r1_thinking_template() -> str:
    text = source("deepseek-r1-distill")
    assert R1_GENERATION in text
    return text.replace(R1_GENERATION, "{{'<｜Assistant｜><think>\\n'}}\n{% endif %}")


@pytest.fixture(scope="module")
def family_model(tmp_path_factory, base_config):
    """A backend on the default GGUF with `name`'s template (one file at a time)."""
    folder = tmp_path_factory.mktemp("family-models")
    opened: list[LocalBackend] = []

    def make(name: str, template: str | None = None) -> LocalBackend:
        for b in opened:  # one copy on disk and in memory at a time
            b.close()
            os.unlink(b.target.path)
        opened.clear()
        path = with_template(
            embedded_model_path(), folder / f"{name}.gguf", template or source(name)
        )
        target = resolve_target(base_config, str(path), {})
        backend = LocalBackend.load(target, n_slots=1, ctx=2048)
        opened.append(backend)
        return backend

    yield make
    for b in opened:
        b.close()
        os.unlink(b.target.path)


def reply(backend: LocalBackend, messages, params: GenerationParams):
    """(the engine's raw text, the Completion): the raw text shows the syntax."""
    finish = backend.submit(backend.prepare(messages, params)).wait()
    return finish.text, complete(finish, backend.model_name)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("choice", ["required", "get_weather"])
def test_a_forced_call_is_in_the_familys_syntax_and_the_follow_up_renders(
    family_model, family, choice
):
    fmt_name, syntax = FAMILIES[family]
    backend = family_model(family)
    assert backend.prompter.tool_format.name == fmt_name
    tool_choice = (
        choice if choice == "required" else {"type": "function", "function": {"name": choice}}
    )
    # greedy: sampled, a 135M model under a foreign template can write a string
    # argument that runs on past max_tokens (seen on gpt-oss's at 0.8, and at 0.3
    # on one host and not another: the draw depends on the CPU's rounding)
    params = GenerationParams(
        temperature=0.0, seed=1, max_tokens=300, tools=TOOLS, tool_choice=tool_choice
    )
    raw, comp = reply(backend, ASK, params)
    assert syntax(raw), raw
    assert comp.finish_reason == "tool_calls" and len(comp.tool_calls) == 1, (raw, comp)
    call = comp.tool_calls[0]
    name = call["function"]["name"]
    assert name == (choice if choice != "required" else name)
    args = json.loads(call["function"]["arguments"])
    schema = next(t for t in TOOLS if t["function"]["name"] == name)["function"]["parameters"]
    jsonschema.validate(args, schema)
    assert comp.warnings == []

    result = '{"forecast": "snow, -4 C"}'
    follow = [
        *ASK,
        {"role": "assistant", "content": comp.content, "tool_calls": comp.tool_calls},
        {"role": "tool", "tool_call_id": call["id"], "name": name, "content": result},
    ]
    auto = GenerationParams(temperature=0, max_tokens=8, tools=TOOLS)
    prompt = backend.prompter.prompt(follow, auto)
    assert "snow, -4 C" in prompt and name in prompt.split(ASK[0]["content"], 1)[1]
    _, answer = reply(backend, follow, auto)
    assert answer.finish_reason in ("stop", "length", "tool_calls") and answer.error is None


def test_thinking_opened_by_the_prompt_is_reasoning_content(family_model):
    backend = family_model("r1-think", r1_thinking_template())
    assert backend.prompter.prompt(ASK, GenerationParams()).rstrip().endswith("<think>")
    raw, comp = reply(backend, ASK, GenerationParams(temperature=0, max_tokens=40))
    # SmolLM2 never closes a block it did not open: all of it is thinking, and
    # the engine's answer text is empty
    assert raw == "" and comp.reasoning_content and "</think>" not in comp.reasoning_content
    assert comp.content == "" and comp.reasoning_tokens == comp.completion_tokens == 40
    usage = comp.to_openai()["usage"]
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 40}


@pytest.fixture(scope="module")
def r1_path(tmp_path_factory):
    path = with_template(
        embedded_model_path(), tmp_path_factory.mktemp("r1") / "r1.gguf", r1_thinking_template()
    )
    yield path
    path.unlink(missing_ok=True)


def oruel(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oruel_cli", *args],
        capture_output=True, text=True, timeout=300, input=stdin,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip


def test_ask_and_run_give_reasoning_content_apart_from_the_answer(r1_path, tmp_path):
    proc = oruel("ask", "-m", str(r1_path), "-t", "0", "--max-tokens", "24", "--output-json",
                 "What is 2+2?")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    message = answer["choices"][0]["message"]
    assert message["reasoning_content"] and message["content"] == ""
    # all of it is thinking: the count runs to the closing marker, if the model
    # writes one (on some hosts' numerics it does, late), else to max_tokens
    thought = answer["usage"]["completion_tokens_details"]["reasoning_tokens"]
    assert 0 < thought <= 24
    job = tmp_path / "job.jsonl"
    job.write_text(json.dumps({"id": "a", "messages": [{"role": "user", "content": "What is 2+2?"}],
                               "temperature": 0, "max_tokens": 24}) + "\n")  # fmt: skip
    proc = oruel("run", str(job), "-m", str(r1_path), "-o", "-")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout.splitlines()[0])
    assert record["reasoning_content"] == message["reasoning_content"], record
    assert record["output"] == "" and record["usage"]["completion_tokens_details"] == {
        "reasoning_tokens": thought
    }
    # piped, ask prints the answer only; --show-thinking prints the thinking first
    plain = oruel("ask", "-m", str(r1_path), "-t", "0", "--max-tokens", "24", "What is 2+2?")
    assert plain.returncode == 0 and plain.stdout.strip() == "", plain.stdout
    assert f"thought for {thought} tokens" in plain.stderr
    shown = oruel("ask", "-m", str(r1_path), "-t", "0", "--max-tokens", "24", "--show-thinking",
                  "What is 2+2?")  # fmt: skip
    assert shown.stdout.strip() == message["reasoning_content"], shown.stdout


def test_serve_streams_reasoning_content_as_its_own_delta(r1_path, tmp_path_factory):
    env = serve_env(tmp_path_factory.mktemp("serve-env"), {})
    srv = Server(["--ctx", "1024", "--model", str(r1_path)], env, tmp_path_factory.mktemp("cwd"))
    try:
        client = srv.client()
        body = {"model": "r1", "messages": ASK, "temperature": 0, "max_tokens": 24}
        whole = client.chat.completions.create(**body)
        thought = whole.choices[0].message.model_extra["reasoning_content"]
        assert thought and whole.choices[0].message.content == ""
        pieces, content = [], []
        for chunk in client.chat.completions.create(**body, stream=True):
            if chunk.choices:
                delta = chunk.choices[0].delta
                pieces.append((delta.model_extra or {}).get("reasoning_content") or "")
                content.append(delta.content or "")
        assert "".join(pieces).strip() == thought and "".join(content) == ""
        assert sum(1 for p in pieces if p) > 1  # streamed piece by piece, not whole
        # --endpoint passes the server's thinking on, whole and streamed, as a local model's
        question = ASK[-1]["content"]
        args = ["--endpoint", srv.base_url, "-t", "0", "--max-tokens", "24"]
        remote = oruel("ask", *args, "--output-json", question)
        assert remote.returncode == 0, remote.stderr
        message = json.loads(remote.stdout)["choices"][0]["message"]
        assert message["reasoning_content"].strip() == thought.strip(), message
        shown = oruel("ask", *args, "--show-thinking", question)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.strip() == thought.strip(), shown.stdout
        plain = oruel("ask", *args, question)
        assert plain.stdout.strip() == "" and "thought for" in plain.stderr, plain
    finally:
        srv.stop()


def test_think_switches_reach_the_template_or_are_refused(tmp_path):
    qwen3 = with_template(embedded_model_path(), tmp_path / "qwen3.gguf", source("qwen3"))
    try:
        off = oruel("ask", "--show-prompt", "-m", str(qwen3), "--no-think", "hi")
        on = oruel("ask", "--show-prompt", "-m", str(qwen3), "--think", "hi")
        assert off.returncode == 0 and on.returncode == 0, off.stderr + on.stderr
        # Qwen3's enable_thinking=false writes an empty block into the generation prompt
        assert off.stdout.rstrip().endswith("<think>\n\n</think>") and "<think>" not in on.stdout
    finally:
        qwen3.unlink()
    refused = oruel("ask", "--show-prompt", "--think", "hi")  # the default model has none
    assert refused.returncode == 2 and "has no thinking switch" in refused.stderr
    assert "Traceback" not in refused.stderr
