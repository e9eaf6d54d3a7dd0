"""GBNF for tool calls in a family's syntax, built on llama-cpp-python's JSON Schema converter.

One converter holds every rule, so the argument schemas of several tools live in one
grammar without their rule names colliding (the converter numbers duplicates), and
each format writes only its own frame around them: `root ::= "[TOOL_CALLS]" ...`.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ...errors import UsageError

# The converter's string rule lets raw control characters through, which json.loads
# refuses (engine/grammars.py makes the same repair with these).
CHAR_RULE = r'char ::= [^"\\] |'
CHAR_RULE_SAFE = r'char ::= [^"\\\x7F\x00-\x1F] |'


def literal(text: str) -> str:
    """`text` as a GBNF string literal (quotes, backslashes and newlines escaped)."""
    return json.dumps(text, ensure_ascii=False)


class GrammarBuilder:
    """Rules added one by one; `build(root)` gives the grammar text."""

    def __init__(self) -> None:
        from llama_cpp.llama_grammar import SchemaConverter

        self._conv = SchemaConverter(
            prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False
        )

    def schema(self, name: str, schema: dict[str, Any] | None) -> str:
        """A rule for a JSON value valid against `schema`; returns the rule's name."""
        schema = copy.deepcopy(schema) if schema else {"type": "object"}
        try:
            schema = self._conv.resolve_refs(schema, name)
            return self._conv.visit(schema, name)
        except Exception as e:  # the converter raises bare KeyError/ValueError on what it lacks
            raise UsageError(
                f"the parameters schema of tool {name!r} cannot be turned into a grammar "
                f"({type(e).__name__}: {e}); allowed: the JSON Schema subset llama.cpp's "
                "converter supports"
            ) from None

    def rule(self, name: str, body: str) -> str:
        return self._conv._add_rule(name, body)

    def build(self, root: str) -> str:
        self._conv._rules["root"] = root
        return self._conv.format_grammar().replace(CHAR_RULE, CHAR_RULE_SAFE) + "\n"


def functions(tools: list[dict[str, Any]], name: str | None = None) -> list[dict[str, Any]]:
    """The `function` objects of `tools`, or only the one named."""
    return [t["function"] for t in tools if name is None or t["function"]["name"] == name]
