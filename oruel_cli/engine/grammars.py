"""GBNF grammars for structure: the one a request's parameters ask for (a tool call in the
model's format, a JSON Schema, a JSON object), the JSON ones built here (tool calls: formats/calls).

llama-cpp-python's schema converter is reused, with one repair: its string
rule lets raw control characters through, which json.loads refuses.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import UsageError
from ..formats.calls import ToolFormat, format_for
from ..formats.calls.gbnf import CHAR_RULE, CHAR_RULE_SAFE
from ..params.model import GenerationParams
from ..params.values import check_tool_choice
from .sampling import Grammar


def schema_gbnf(schema: dict[str, Any]) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        gbnf = json_schema_to_gbnf(json.dumps(schema))
    except Exception as e:  # the converter raises bare KeyError/ValueError on what it lacks
        raise UsageError(
            f"this JSON Schema cannot be turned into a grammar ({type(e).__name__}: {e}); "
            "allowed: the JSON Schema subset llama.cpp's converter supports"
        ) from None
    return gbnf.replace(CHAR_RULE, CHAR_RULE_SAFE)


def json_object_grammar() -> Grammar:
    from llama_cpp.llama_grammar import JSON_GBNF

    return Grammar(JSON_GBNF)


def json_schema_grammar(schema: dict[str, Any]) -> Grammar:
    return Grammar(schema_gbnf(schema))


def grammar_for(params: GenerationParams, fmt: ToolFormat | None = None) -> Grammar | None:
    """The grammar a request needs: a tool call in the model's format (`fmt`;
    oruel's own `<tool_call>` when None), a schema, a JSON object, or none."""
    tools, choice = params.tools, params.tool_choice
    check_tool_choice(params)  # merge() checked it already; requests built otherwise too
    if params.tools_active:
        fmt = fmt or format_for(None)
        name = params.forced_tool()
        if name is not None or choice == "required":
            return Grammar(fmt.grammar(tools, name))
        return Grammar(fmt.grammar(tools, lazy=True), lazy_trigger=fmt.trigger)
    fmt = params.response_kind
    if fmt == "json_object":
        return json_object_grammar()
    if fmt == "json_schema":
        return json_schema_grammar(params.response_format["json_schema"]["schema"])
    return None
