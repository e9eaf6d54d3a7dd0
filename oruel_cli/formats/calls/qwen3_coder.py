"""Qwen3-Coder: XML inside `<tool_call>`, one `<parameter=KEY>` element per argument.

    <tool_call>
    <function=get_weather>
    <parameter=city>
    Oslo
    </parameter>
    </function>
    </tool_call>

A value is JSON where it parses as a non-string JSON value (numbers, booleans, objects,
lists), else the text itself, which is what a string parameter holds.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .base import Call, ToolFormat, expect, skip_space
from .gbnf import GrammarBuilder, functions, literal

OPEN, CLOSE = "<tool_call>", "</tool_call>"
_FUNCTION = re.compile(r"<function=([^>\s]+)>")
_PARAM = re.compile(r"<parameter=([^>\s]+)>\n?(.*?)\n?</parameter>", re.S)


def _value(text: str) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return text if isinstance(value, str) else value


class Qwen3Coder(ToolFormat):
    name = "qwen3-coder"
    models = "Qwen3-Coder"
    trigger = OPEN

    def detect(self, template: str) -> bool:
        return "<function=" in template and "<parameter=" in template

    def grammar(self, tools, name=None, lazy=False):
        b = GrammarBuilder()
        text_value = b.rule("text-value", '( [^<] | "<" [^/] )*')
        alts = []
        for fn in functions(tools, name):
            schema = fn.get("parameters") or {}
            required = set(schema.get("required", []))
            parts = []
            for key, sub in (schema.get("properties") or {}).items():
                value = (
                    text_value
                    if sub.get("type") == "string"
                    else b.schema(f"{fn['name']}-{key}", sub)
                )
                part = f"{literal(f'<parameter={key}>' + chr(10))} {value} {literal(chr(10) + '</parameter>' + chr(10))}"
                parts.append(part if key in required else f"( {part} )?")
            head = literal(f"<function={fn['name']}>\n")
            alts.append(f"{head} {' '.join(parts)} {literal('</function>' + chr(10))}")
        return b.build(f"{literal(OPEN + chr(10))} ( {' | '.join(alts)} ) {literal(CLOSE)}")

    def _calls(self, text: str, at: int) -> tuple[list[Call], int]:
        calls, i = [], at
        while text.startswith(OPEN, skip_space(text, i)):
            i = expect(text, i, OPEN)
            end = text.find(CLOSE, i)
            if end < 0:
                raise ValueError("an unclosed <tool_call>")
            block = text[i:end]
            fn = _FUNCTION.search(block)
            if not fn or "</function>" not in block:
                raise ValueError("a <tool_call> without a <function=...> element")
            args = {m.group(1): _value(m.group(2)) for m in _PARAM.finditer(block)}
            calls.append(Call(fn.group(1), args))
            i = end + len(CLOSE)
        return calls, i
