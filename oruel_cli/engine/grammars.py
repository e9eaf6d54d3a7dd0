"""GBNF grammars for structure: JSON objects and JSON Schemas (tool calls: formats/calls;
which one a request gets: backends/local.py's grammar_for).

llama-cpp-python's schema converter is reused, with one repair: its string
rule lets raw control characters through, which json.loads refuses.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import UsageError
from ..formats.calls.gbnf import CHAR_RULE, CHAR_RULE_SAFE
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
