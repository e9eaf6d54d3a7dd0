"""The corpus of real chat templates (tests/templates/, sources in SOURCES.md) and
the conversations every parity test renders through each of them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# One fixed moment for templates that read the clock (strftime_now).
FIXED_NOW = datetime(2026, 12, 4, 9, 30)
DATE_STRING = "04 Dec 2026"  # Llama 3.x's own date keyword

# name -> (file, bos_token, eos_token, the template's own keywords for every case)
CORPUS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "llama-3.1": ("meta-llama-Llama-3.3-70B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>",
                  {"date_string": DATE_STRING}),
    "llama-3.2": ("meta-llama-Llama-3.2-3B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>",
                  {"date_string": DATE_STRING}),
    "qwen2.5": ("Qwen-Qwen2.5-0.5B-Instruct.jinja", "", "<|im_end|>", {}),
    "qwen3": ("Qwen-Qwen3-0.6B.jinja", "", "<|im_end|>", {}),
    "mistral-7b-v0.3": ("mistralai-Mistral-7B-Instruct-v0.3.jinja", "<s>", "</s>", {}),
    "mistral-nemo": ("mistralai-Mistral-Nemo-Instruct-2407.jinja", "<s>", "</s>", {}),
    "mistral-small-3.2": ("Mistral-Small-3.2-24B-Instruct-2506.jinja", "<s>", "</s>", {}),
    "gemma-2": ("google-gemma-2-2b-it.jinja", "<bos>", "<eos>", {}),
    "phi-3.5": ("microsoft-Phi-3.5-mini-instruct.jinja", "<s>", "<|endoftext|>", {}),
    "phi-4-mini": ("llama-cpp-microsoft-Phi-4-mini-instruct.jinja", "<|endoftext|>",
                   "<|endoftext|>", {}),
    "deepseek-r1-distill": ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
                            "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", {}),
    "smollm3": ("HuggingFaceTB-SmolLM3-3B.jinja", "", "<|im_end|>", {}),
    "hermes-3": ("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", "<|begin_of_text|>",
                 "<|im_end|>", {}),
    "granite-3.3": ("ibm-granite-granite-3.3-2B-Instruct.jinja", "", "<|end_of_text|>", {}),
    "gpt-oss": ("openai-gpt-oss-120b.jinja", "<|startoftext|>", "<|return|>", {}),
}  # fmt: skip

# The keyword that turns thinking off, where the template has one.
THINKING_OFF: dict[str, dict[str, Any]] = {
    "qwen3": {"enable_thinking": False},
    "smollm3": {"enable_thinking": False},
    "gpt-oss": {"reasoning_effort": "low"},
}

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city now.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city's name."}},
            "required": ["city"],
        },
    },
}
CALL_ID = "call0Ab12"  # Mistral's templates want 9 alphanumeric characters
CALL = {
    "id": CALL_ID,
    "type": "function",
    "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
}

# case -> (messages, tools)
CASES: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]] | None]] = {
    "user": ([{"role": "user", "content": "Hello, who are you?"}], None),
    "system-user": (
        [
            {"role": "system", "content": "You answer in French."},
            {"role": "user", "content": "Hello, who are you?"},
        ],
        None,
    ),
    "multi-turn": (
        [
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": "Blue."},
            {"role": "user", "content": "Another one, é and 漢字."},
        ],
        None,
    ),
    "one-tool": ([{"role": "user", "content": "Weather in Paris?"}], [WEATHER]),
    "tool-result": (
        [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": CALL_ID, "content": json.dumps({"temp_c": 21})},
        ],
        [WEATHER],
    ),
}


def source(name: str) -> str:
    return (TEMPLATES / CORPUS[name][0]).read_text(encoding="utf-8")


# The conversation the CLI and serve parity tests send through every template.
SYSTEM, PROMPT = "You answer in French.", "Hello, who are you?"
SYSTEM_AND_USER = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]
# Tool-use templates that render only when they are given tools.
NEEDS_TOOLS = ("hermes-3", "phi-4-mini")


def expected_prompt(name: str, bos: str, eos: str, tools: list | None) -> str:
    """transformers' rendering of SYSTEM_AND_USER through template `name`, the system
    prompt folded into the user message where the template has no system role (Gemma 2),
    as oruel folds it."""
    import transformers.utils.chat_template_utils as hf

    messages = SYSTEM_AND_USER
    if name == "gemma-2":
        messages = [{"role": "user", "content": f"{SYSTEM}\n\n{PROMPT}"}]
    rendered, _ = hf.render_jinja_template(
        conversations=[messages], tools=tools, chat_template=source(name),
        add_generation_prompt=True, bos_token=bos, eos_token=eos, **CORPUS[name][3],
    )  # fmt: skip
    return rendered[0]
