"""Phi-4-mini: `functools[{"name", "arguments"}, ...]`.

Its template lists the tools between `<|tool|>` and `<|/tool|>` in the system turn.
"""

from __future__ import annotations

from .base import Call, ToolFormat, expect
from .gbnf import GrammarBuilder, literal
from .granite import json_list_of_calls
from .hermes import name_and_arguments

OPEN = "functools"


class Phi4(ToolFormat):
    name = "phi4"
    models = "Phi-4-mini"
    trigger = "functools["
    markers = ("<|tool|>",)

    def grammar(self, tools, name=None, lazy=False):
        b = GrammarBuilder()
        call = b.schema("call", name_and_arguments(tools, name, "arguments"))
        return b.build(f'{literal(OPEN)} "[" space {call} space "]"')

    def _calls(self, text: str, at: int) -> tuple[list[Call], int]:
        return json_list_of_calls(text, expect(text, at, OPEN))
