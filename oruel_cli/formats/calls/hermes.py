"""Hermes 2 Pro / Hermes 3, Qwen2.5, Qwen3, SmolLM3: `<tool_call>{"name", "arguments"}</tool_call>`.

The same syntax oruel teaches a model whose template knows no tools. Several calls
are several blocks, one after the other.
"""

from __future__ import annotations

from typing import Any

from .base import Call, ToolFormat, call_from_object, expect, json_at, skip_space
from .gbnf import GrammarBuilder, functions, literal

OPEN, CLOSE = "<tool_call>", "</tool_call>"


def name_and_arguments(tools: list[dict[str, Any]], name: str | None, args_key: str) -> dict:
    """The schema of `{"name": <one of the tools>, args_key: <its parameters>}`."""
    alts = [
        {
            "type": "object",
            "properties": {
                "name": {"const": fn["name"]},
                args_key: fn.get("parameters") or {"type": "object"},
            },
            "required": ["name", args_key],
        }
        for fn in functions(tools, name)
    ]
    return alts[0] if len(alts) == 1 else {"anyOf": alts}


class Hermes(ToolFormat):
    name = "hermes"
    models = "Hermes 2 Pro and 3, Qwen2.5, Qwen3, QwQ, SmolLM3"
    trigger = OPEN
    markers = (OPEN,)

    def grammar(self, tools, name=None, lazy=False):
        b = GrammarBuilder()
        body = b.schema("call", name_and_arguments(tools, name, "arguments"))
        return b.build(f'{literal(OPEN)} "\\n"? {body} "\\n"? {literal(CLOSE)}')

    def _calls(self, text: str, at: int) -> tuple[list[Call], int]:
        calls, i = [], at
        while text.startswith(OPEN, skip_space(text, i)):
            obj, i = json_at(text, expect(text, i, OPEN))
            calls.append(call_from_object(obj))
            i = expect(text, i, CLOSE)
        return calls, i
