"""Mistral's two generations of `[TOOL_CALLS]`.

v0.3 tokenizers (Mistral 7B v0.3, Nemo, Small 3 and 3.1): `[TOOL_CALLS]` then a JSON
array of `{"name", "arguments", "id"}`. Tekken v11 and later (Magistral, Small 3.2,
Devstral, Ministral 3): `[TOOL_CALLS]name[ARGS]{...}` once per call, sometimes with
`[CALL_ID]id` before `[ARGS]`. Their templates refuse a history whose tool call ids
are not 9 letters and digits, so the ids minted here are of that shape.
"""

from __future__ import annotations

import secrets
import string

from .base import Call, ToolFormat, call_from_object, expect, json_at, skip_space
from .gbnf import GrammarBuilder, functions, literal
from .hermes import name_and_arguments

OPEN, ARGS, CALL_ID = "[TOOL_CALLS]", "[ARGS]", "[CALL_ID]"
_ALNUM = string.ascii_letters + string.digits


def mistral_id() -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(9))


def _with_id(call: Call) -> Call:
    if not (call.id and len(call.id) == 9 and call.id.isalnum()):
        call.id = mistral_id()
    return call


class MistralNemo(ToolFormat):
    name = "mistral"
    models = "Mistral 7B v0.3, Nemo, Small 3 and 3.1"
    trigger = OPEN

    def detect(self, template: str) -> bool:
        return OPEN in template and ARGS not in template

    def grammar(self, tools, name=None, lazy=False):
        b = GrammarBuilder()
        call = b.schema("call", name_and_arguments(tools, name, "arguments"))
        return b.build(f'{literal(OPEN)} space "[" space {call} space "]"')

    def _calls(self, text: str, at: int) -> tuple[list[Call], int]:
        calls: list[Call] = []
        i = at
        while text.startswith(OPEN, skip_space(text, i)):
            items, i = json_at(text, expect(text, i, OPEN))
            if isinstance(items, dict):
                items = [items]
            if not isinstance(items, list) or not items:
                raise ValueError("[TOOL_CALLS] takes a list of calls")
            calls += [_with_id(call_from_object(item)) for item in items]
        return calls, i


class MistralTekken(ToolFormat):
    name = "mistral-tekken"
    models = "Magistral, Mistral Small 3.2, Devstral, Ministral 3"
    trigger = OPEN

    def detect(self, template: str) -> bool:
        return OPEN in template and ARGS in template

    def grammar(self, tools, name=None, lazy=False):
        b = GrammarBuilder()
        alts = [
            f"{literal(fn['name'] + ARGS)} {b.schema(fn['name'] + '-args', fn.get('parameters'))}"
            for fn in functions(tools, name)
        ]
        return b.build(f"{literal(OPEN)} ( {' | '.join(alts)} )")

    def _calls(self, text: str, at: int) -> tuple[list[Call], int]:
        calls: list[Call] = []
        i = at
        while text.startswith(OPEN, skip_space(text, i)):
            i = expect(text, i, OPEN)
            cut = text.find(ARGS, i)
            if cut < 0:
                raise ValueError("a call without [ARGS]")
            head, call_id = text[i:cut], None
            if CALL_ID in head:
                head, call_id = head.split(CALL_ID, 1)
            name = head.strip()
            if not name or any(c.isspace() for c in name):
                raise ValueError("a call without a function name")
            args, i = json_at(text, cut + len(ARGS))
            calls.append(_with_id(Call(name, args, call_id and call_id.strip())))
        return calls, i
