"""`oruel ask --show-prompt` through the real CLI, on the default model's GGUF
copied with each corpus template in place of its own: the prompt equals
transformers' rendering, with bos_token and eos_token from that GGUF's
vocabulary. One copy at a time (~100 MB), deleted after its test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gguf import GGUFReader
from support.template_corpus import (
    CORPUS,
    DATE_STRING,
    NEEDS_TOOLS,
    PROMPT,
    SYSTEM,
    WEATHER,
    source,
)
from support.template_corpus import expected_prompt as expected
from support.template_gguf import with_template

from oruel_cli.models.resolve import embedded_model_path

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def special_tokens() -> tuple[str, str]:
    """The default model's BOS and EOS tokens, as its GGUF spells them."""
    reader = GGUFReader(embedded_model_path())
    tokens = reader.fields["tokenizer.ggml.tokens"]

    def token(key: str) -> str:
        i = int(reader.fields[key].parts[-1][0])
        return bytes(tokens.parts[tokens.data[i]]).decode("utf-8")

    return token("tokenizer.ggml.bos_token_id"), token("tokenizer.ggml.eos_token_id")


@pytest.fixture
def model_with(tmp_path):
    made: list[Path] = []

    def make(name: str) -> Path:
        path = with_template(embedded_model_path(), tmp_path / f"{name}.gguf", source(name))
        made.append(path)
        return path

    yield make
    for path in made:
        path.unlink(missing_ok=True)


def show_prompt(model: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oruel_cli", "ask", "--show-prompt", "--output-json",
         "-m", str(model), *args],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_show_prompt_equals_transformers_rendering(name, model_with, special_tokens, tmp_path):
    bos, eos = special_tokens
    args = ["--system", SYSTEM, PROMPT]
    if "date_string" in CORPUS[name][3]:
        args += ["--template-arg", f"date_string={DATE_STRING}"]
    tools = None
    if name in NEEDS_TOOLS:
        tools = [WEATHER]
        (tmp_path / "tools.json").write_text(json.dumps(tools))
        args += ["--tools", str(tmp_path / "tools.json")]
    before = expected(name, bos, eos, tools)  # templates that read the clock: the day may turn
    res = show_prompt(model_with(name), *args)
    after = expected(name, bos, eos, tools)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["prompt"] in (before, after)
    assert out["tokens"] > 0 and f"{out['tokens']} prompt tokens" in res.stderr
    assert ("no system role" in res.stderr) == (name == "gemma-2")


def test_a_template_argument_reaches_the_template(model_with):
    model = model_with("qwen3")
    on = json.loads(show_prompt(model, PROMPT).stdout)["prompt"]
    off = show_prompt(model, "--template-arg", "enable_thinking=false", PROMPT)
    assert off.returncode == 0, off.stderr
    assert json.loads(off.stdout)["prompt"] == on + "<think>\n\n</think>\n\n"


def test_chat_template_file_replaces_the_models_template(model_with):
    file = Path(__file__).resolve().parent.parent / "templates" / CORPUS["phi-3.5"][0]
    res = subprocess.run(
        [sys.executable, "-m", "oruel_cli", "ask", "--show-prompt", "--chat-template", str(file),
         PROMPT],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"<|user|>\n{PROMPT}<|end|>\n<|assistant|>\n"


def run_job(tmp_path: Path, model: Path, rows: list[dict]) -> dict[str, dict]:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = subprocess.run(
        [sys.executable, "-m", "oruel_cli", "run", str(jobs), "-m", str(model), "--ctx", "1024",
         "--temperature", "0"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert "Traceback" not in res.stderr
    out = [json.loads(line) for line in (tmp_path / "jobs.results.jsonl").read_text().splitlines()]
    return {r.get("custom_id", r.get("id")): r for r in out}


def test_batch_lines_carry_chat_template_kwargs(tmp_path, model_with):
    off = {"enable_thinking": False}
    body = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 1,
            "chat_template_kwargs": off}  # fmt: skip
    rows = [
        {"id": "on", "prompt": PROMPT, "max_tokens": 1},
        {"id": "off", "prompt": PROMPT, "max_tokens": 1, "chat_template_kwargs": off},
        {"id": "bad", "prompt": PROMPT, "chat_template_kwargs": ["enable_thinking"]},
        {"custom_id": "body", "method": "POST", "url": "/v1/chat/completions", "body": body},
    ]
    out = run_job(tmp_path, model_with("qwen3"), rows)
    on = out["on"]["usage"]["prompt_tokens"]
    off_tokens = out["off"]["usage"]["prompt_tokens"]
    assert off_tokens > on  # the empty <think></think> block the switch adds
    assert out["body"]["response"]["body"]["usage"]["prompt_tokens"] == off_tokens
    assert out["bad"]["error"]["code"] == "invalid_parameter"
    assert "chat_template_kwargs" in out["bad"]["error"]["message"]


def test_a_refusal_that_remains_is_that_lines_error_record(tmp_path, model_with):
    model = model_with("gemma-2")
    twice = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    rows = [{"id": "ok", "prompt": PROMPT, "system": SYSTEM, "max_tokens": 1},
            {"id": "twice", "messages": twice}]  # fmt: skip
    out = run_job(tmp_path, model, rows)
    assert out["ok"]["error"] is None
    err = out["twice"]["error"]["message"]
    assert "roles must alternate" in err and str(model) in err


@pytest.mark.parametrize(
    ("name", "lines"),
    [
        ("qwen3", ["template tools        yes", "template system role  yes",
                   "template thinking     yes; switch: enable_thinking"]),
        ("gemma-2", ["template tools        no", "template system role  no",
                     "template thinking     no; switch: none"]),
    ],
)  # fmt: skip
def test_models_info_says_what_the_template_supports(name, lines, model_with):
    res = subprocess.run(
        [sys.executable, "-m", "oruel_cli", "models", "info", str(model_with(name))],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    for line in lines:
        assert line in res.stdout


def test_a_config_entry_gives_a_model_its_template_and_keywords(tmp_path):
    import yaml

    qwen = Path(__file__).resolve().parent.parent / "templates" / CORPUS["qwen3"][0]
    config = Path(os.environ["ORUEL_CONFIG"])
    entry = {"chat_template": str(qwen), "args": {"enable_thinking": False}}
    config.write_text(yaml.safe_dump({"templates": {"default": entry}}))
    res = subprocess.run(
        [sys.executable, "-m", "oruel_cli", "ask", "--show-prompt", PROMPT],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    res = subprocess.run(
        [sys.executable, "-m", "oruel_cli", "ask", "--show-prompt",
         "--template-arg", "enable_thinking=true", PROMPT],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert res.stdout.endswith("<|im_start|>assistant\n")  # the flag wins over the config
    config.write_text(yaml.safe_dump({"templates": {"default": {"args": {"bad-key": 1}}}}))
    res = subprocess.run(
        [sys.executable, "-m", "oruel_cli", "ask", "--show-prompt", PROMPT],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert res.returncode == 2 and "templates.default.args" in res.stderr
