"""Llama 3.1, 3.2 and 3.3: a bare `{"name": ..., "parameters": {...}}`, or after `<|python_tag|>`.

The templates ask for exactly that object ("Respond in the format {"name": function
name, "parameters": dictionary of argument name and its value}"); the models also
write `{"type": "function", "name": ...}`, open it with `<|python_tag|>`, and write
several separated by `;`.
"""

from __future__ import annotations

import re

from .base import Call, ToolFormat, call_from_object, json_at, skip_space
from .gbnf import GrammarBuilder
from .hermes import name_and_arguments

PYTHON_TAG = "<|python_tag|>"
_OPENING = re.compile(r'<\|python_tag\|>|\{\s*"(?:name|type)"\s*:')
_PARTIAL = re.compile(r'\{\s*(?:"[a-z]*"?\s*)?$')  # `{`, `{ "na`, `{"name"`: maybe a call


class Llama3(ToolFormat):
    name = "llama3"
    models = "Llama 3.1, 3.2, 3.3"
    trigger = '{"name"'

    def openers(self) -> tuple[str, ...]:
        return (PYTHON_TAG, self.trigger)

    def detect(self, template: str) -> bool:
        return "<|start_header_id|>" in template and (
            "ipython" in template or PYTHON_TAG in template
        )

    def grammar(self, tools, name=None, lazy=False):
        b = GrammarBuilder()
        return b.build(b.schema("call", name_and_arguments(tools, name, "parameters")))

    def partial_opening(self, text: str) -> int:
        m = _PARTIAL.search(text)
        return m.start() if m else super().partial_opening(text)

    def find(self, text: str) -> int:
        m = _OPENING.search(text)
        return m.start() if m else -1

    def _calls(self, text: str, at: int) -> tuple[list[Call], int]:
        calls, i = [], at
        if text.startswith(PYTHON_TAG, i):
            i += len(PYTHON_TAG)
        while True:
            obj, i = json_at(text, i)
            calls.append(call_from_object(obj, "parameters"))
            j = skip_space(text, i)
            if not text.startswith(";", j):
                return calls, i
            i = j + 1
