"""GBNF grammars for structure: JSON objects, JSON Schemas, tool calls.

llama-cpp-python's schema converter is reused, with one repair: its string
rule lets raw control characters through, which json.loads refuses.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import UsageError
from .sampling import Grammar
from .template import TOOL_CLOSE, TOOL_OPEN

_CHAR_RULE = r'char ::= [^"\\] |'
_CHAR_RULE_SAFE = r'char ::= [^"\\\x7F\x00-\x1F] |'


def schema_gbnf(schema: dict[str, Any]) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        gbnf = json_schema_to_gbnf(json.dumps(schema))
    except Exception as e:  # the converter raises bare KeyError/ValueError on what it lacks
        raise UsageError(
            f"this JSON Schema cannot be turned into a grammar ({type(e).__name__}: {e}); "
            "allowed: the JSON Schema subset llama.cpp's converter supports"
        ) from None
    return gbnf.replace(_CHAR_RULE, _CHAR_RULE_SAFE)


def json_object_grammar() -> Grammar:
    from llama_cpp.llama_grammar import JSON_GBNF

    return Grammar(JSON_GBNF)


def json_schema_grammar(schema: dict[str, Any]) -> Grammar:
    return Grammar(schema_gbnf(schema))


def tool_call_schema(tools: list[dict[str, Any]], name: str | None = None) -> dict[str, Any]:
    """{"name": ..., "arguments": ...} for one function, or any of them."""
    alts = [
        {
            "type": "object",
            "properties": {
                "name": {"const": t["function"]["name"]},
                "arguments": t["function"].get("parameters") or {"type": "object"},
            },
            "required": ["name", "arguments"],
        }
        for t in tools
        if name is None or t["function"]["name"] == name
    ]
    return alts[0] if len(alts) == 1 else {"anyOf": alts}


def tool_call_grammar(
    tools: list[dict[str, Any]], name: str | None = None, lazy: bool = False
) -> Grammar:
    """A reply that is one <tool_call>{...}</tool_call>; lazy: only once it opens."""
    body = re.sub(r"^root ::=", "tool-call-body ::=", schema_gbnf(tool_call_schema(tools, name)),
                  flags=re.M)  # fmt: skip
    root = f'root ::= "{TOOL_OPEN}" "\\n"? tool-call-body "\\n"? "{TOOL_CLOSE}"\n'
    return Grammar(root + body, lazy_trigger=TOOL_OPEN if lazy else None)
