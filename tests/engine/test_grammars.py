"""Grammars built for structure: pure text checks, no model."""

import re

import pytest

from oruel_cli.backends.local import grammar_for
from oruel_cli.engine.grammars import json_schema_grammar, schema_gbnf
from oruel_cli.errors import UsageError
from oruel_cli.params.model import GenerationParams


def test_schema_strings_refuse_raw_control_characters():
    gbnf = schema_gbnf({"type": "object", "properties": {"a": {"type": "string"}}})
    assert r'char ::= [^"\\\x7F\x00-\x1F]' in gbnf
    assert 'char ::= [^"\\\\] |' not in gbnf


def test_a_schema_the_converter_cannot_take_is_a_clear_usage_error():
    bad = {"type": "object", "properties": {"a": {"$ref": "#/definitions/missing"}}}
    with pytest.raises(UsageError, match="cannot be turned into a grammar"):
        json_schema_grammar(bad)


def test_tool_call_grammar_wraps_one_call_and_lazy_waits_for_the_tag():
    # No format given: oruel's own <tool_call> syntax (Hermes), as a template
    # that knows no tools is taught.
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    named = {"type": "function", "function": {"name": "f"}}
    forced = grammar_for(GenerationParams(tools=tools, tool_choice=named))
    assert forced is not None and forced.lazy_trigger is None
    assert re.search(r'^root ::= "<tool_call>"', forced.gbnf, re.M), forced.gbnf
    assert '"\\"f\\""' in forced.gbnf  # the name is a constant
    lazy = grammar_for(GenerationParams(tools=tools, tool_choice="auto"))
    assert lazy is not None and lazy.lazy_trigger == "<tool_call>"
