"""Grammars built for structure: pure text checks, no model."""

import pytest

from oruel_cli.engine.grammars import json_schema_grammar, schema_gbnf, tool_call_grammar
from oruel_cli.errors import UsageError


def test_schema_strings_refuse_raw_control_characters():
    gbnf = schema_gbnf({"type": "object", "properties": {"a": {"type": "string"}}})
    assert r'char ::= [^"\\\x7F\x00-\x1F]' in gbnf
    assert 'char ::= [^"\\\\] |' not in gbnf


def test_a_schema_the_converter_cannot_take_is_a_clear_usage_error():
    bad = {"type": "object", "properties": {"a": {"$ref": "#/definitions/missing"}}}
    with pytest.raises(UsageError, match="cannot be turned into a grammar"):
        json_schema_grammar(bad)


def test_tool_call_grammar_wraps_one_call_and_lazy_waits_for_the_tag():
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    forced = tool_call_grammar(tools, "f")
    assert forced.gbnf.startswith('root ::= "<tool_call>"') and forced.lazy_trigger is None
    assert '"\\"f\\""' in forced.gbnf  # the name is a constant
    assert tool_call_grammar(tools, lazy=True).lazy_trigger == "<tool_call>"
