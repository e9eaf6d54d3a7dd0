"""IBM Granite 3.x: `<|tool_call|>` then a JSON array of `{"name", "arguments"}`."""

from __future__ import annotations

from .base import Call, ToolFormat, call_from_object, expect, json_at
from .gbnf import GrammarBuilder, literal
from .hermes import name_and_arguments

OPEN = "<|tool_call|>"


class Granite(ToolFormat):
    name = "granite"
    models = "Granite 3.x"
    trigger = OPEN
    markers = (OPEN,)

    def grammar(self, tools, name=None, lazy=False):
        b = GrammarBuilder()
        call = b.schema("call", name_and_arguments(tools, name, "arguments"))
        return b.build(f'{literal(OPEN)} space "[" space {call} space "]"')

    def _calls(self, text: str, at: int) -> tuple[list[Call], int]:
        return json_list_of_calls(text, expect(text, at, OPEN))


def json_list_of_calls(text: str, i: int) -> tuple[list[Call], int]:
    items, i = json_at(text, i)
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not items:
        raise ValueError("calls come as a list")
    return [call_from_object(item) for item in items], i
