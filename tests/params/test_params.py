"""GenerationParams and its validation (ranges, types and meaning):
every range edge, strict types for typed input, one message naming the parameter,
the value and what is allowed; the flag layer's parsing of the same values."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.shared_data import EDGES

from oruel_cli.common.options import CommonOptions
from oruel_cli.errors import UsageError
from oruel_cli.params.layering import Layer, merge
from oruel_cli.params.model import PARAM_NAMES, GenerationParams
from oruel_cli.params.values import allowed, parse_value, validate_params

# name -> (lowest, highest, integer?) as the reference gives them.
NUMERIC: dict[str, tuple[int | float, int | float, bool]] = {
    "temperature": (0, 2, False),
    "top_p": (0, 1, False),
    "top_k": (0, 200, True),
    "min_p": (0, 1, False),
    "seed": (-(2**63), 2**64 - 1, True),
    "max_tokens": (1, 131072, True),
    "frequency_penalty": (-2, 2, False),
    "presence_penalty": (-2, 2, False),
    "repetition_penalty": (0.1, 3, False),
}
FLOATS = [n for n, (_, _, is_int) in NUMERIC.items() if not is_int]
INTS = [n for n, (_, _, is_int) in NUMERIC.items() if is_int]


HYPO = settings(deadline=None, max_examples=60)


def refused(values: dict[str, Any]) -> str:
    """validate_params must refuse; the message, which must be one line."""
    with pytest.raises(UsageError) as info:
        validate_params(values)
    assert info.value.exit_code == 2
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def flags(**opts: Any) -> GenerationParams:
    """The flag layer as the CLI builds it: text parsed, then validated."""
    return validate_params(CommonOptions(**opts).flag_params())


def flag_error(**opts: Any) -> str:
    with pytest.raises(UsageError) as info:
        flags(**opts)
    assert info.value.exit_code == 2
    return str(info.value)


# --- the model itself -----------------------------------------------------------


def test_fifteen_parameters_in_reference_order_then_openais_three():
    assert PARAM_NAMES == (
        "temperature", "top_p", "top_k", "min_p", "seed", "max_tokens", "stop",
        "frequency_penalty", "presence_penalty", "repetition_penalty",
        "response_format", "stream", "tools", "tool_choice", "tier",
        "logprobs", "top_logprobs", "logit_bias",
    )  # fmt: skip


def test_defaults_follow_the_reference():
    p = validate_params({})
    assert (p.temperature, p.top_p, p.frequency_penalty, p.presence_penalty) == (0.7, 1.0, 0, 0)
    assert p.repetition_penalty == 1.0
    assert p.stream is False and p.tier == "standard"
    for name in ("top_k", "min_p", "seed", "max_tokens", "stop", "response_format", "tools",
                 "tool_choice"):  # fmt: skip
        assert getattr(p, name) is None, name


def test_shown_defaults_use_the_references_words():
    """What `params list` and `params explain` print as the default."""
    from oruel_cli.params.values import default_text

    shown = {name: default_text(name) for name in PARAM_NAMES}
    assert shown["max_tokens"].startswith("model-dependent (unset: ")
    assert (
        "model ends the reply" in shown["max_tokens"] and "context is full" in shown["max_tokens"]
    )
    assert shown["response_format"] == '{"type": "text"}'
    assert (shown["temperature"], shown["top_p"], shown["stream"]) == ("0.7", "1.0", "false")
    assert shown["tier"] == "'standard'"
    for name in ("top_k", "min_p", "seed", "stop", "tools", "tool_choice"):
        assert shown[name] == "not set", name


@pytest.mark.parametrize("name", list(NUMERIC))
def test_allowed_text_names_the_range(name):
    lo, hi, is_int = NUMERIC[name]
    text = allowed(name)
    if name == "seed":
        assert "-2^63" in text and "2^64-1" in text
    else:
        assert f"from {lo:g} to {hi:g}" in text
        assert text.startswith("an integer" if is_int else "a number")


# --- numeric edges, typed input ---------------------------------------------------


@pytest.mark.parametrize("name", list(NUMERIC))
def test_typed_edges_accepted(name):
    lo, hi, _ = NUMERIC[name]
    assert getattr(validate_params({name: lo}), name) == lo
    assert getattr(validate_params({name: hi}), name) == hi


@pytest.mark.parametrize("name", list(NUMERIC))
def test_typed_just_past_the_edges_refused(name):
    lo, hi, is_int = NUMERIC[name]
    step = 1 if is_int else 0.001
    for value in (lo - step, hi + step):
        msg = refused({name: value})
        assert f"invalid {name} " in msg
        assert repr(value) in msg
        assert f"(allowed: {allowed(name)})" in msg


def test_seed_edges_exactly():
    assert validate_params({"seed": -(2**63)}).seed == -(2**63)
    assert validate_params({"seed": 2**64 - 1}).seed == 2**64 - 1
    refused({"seed": -(2**63) - 1})
    refused({"seed": 2**64})


# --- strict types where the input is typed -----------------------------------------


def test_string_number_refused():
    msg = refused({"temperature": "0.5"})
    assert "temperature" in msg and "'0.5'" in msg and "from 0 to 2" in msg


@pytest.mark.parametrize("name", list(NUMERIC))
def test_booleans_are_not_numbers(name):
    msg = refused({name: True})
    assert f"invalid {name} true" in msg


def test_int_accepted_for_a_number():
    p = validate_params({"temperature": 1, "top_p": 0, "repetition_penalty": 2})
    assert p.temperature == 1.0 and isinstance(p.temperature, float)
    assert p.top_p == 0.0 and p.repetition_penalty == 2.0


@pytest.mark.parametrize("name", INTS)
def test_float_refused_for_an_integer(name):
    msg = refused({name: 1.0})
    assert f"invalid {name} 1.0" in msg


@pytest.mark.parametrize("name", list(NUMERIC))
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_refused(name, value):
    msg = refused({name: value})
    assert f"invalid {name} " in msg and "allowed" in msg


def test_stream_is_strictly_boolean():
    assert validate_params({"stream": True}).stream is True
    for bad in (1, "true", "yes"):
        assert "invalid stream" in refused({"stream": bad})


def test_unknown_name_suggests_the_close_one():
    msg = refused({"temprature": 0.5})
    assert "unknown parameter 'temprature'" in msg
    assert "did you mean temperature?" in msg
    msg = refused({"top-p": 0.5})
    assert "did you mean top_p?" in msg
    msg = refused({"zzzzzz": 1})
    assert "did you mean" not in msg and "known: temperature" in msg


def test_where_prefix_names_the_input():
    with pytest.raises(UsageError) as info:
        validate_params({"top_k": 500}, where="preset file x.yaml: ")
    assert str(info.value).startswith("preset file x.yaml: invalid top_k 500")


# --- stop ------------------------------------------------------------------------


def test_stop_forms():
    assert validate_params({"stop": "END"}).stop == ["END"]
    assert validate_params({"stop": ["a", "b", "c", "d"]}).stops() == ["a", "b", "c", "d"]
    assert validate_params({"stop": "x" * 256}).stop == ["x" * 256]
    assert validate_params({}).stops() == []


def test_stop_limits():
    assert "at most 4 strings" in refused({"stop": ["a", "b", "c", "d", "e"]})
    assert "longer than 256" in refused({"stop": ["x" * 257]})
    assert "empty stop" in refused({"stop": [""]})
    assert "invalid stop" in refused({"stop": 5})
    assert "invalid stop" in refused({"stop": ["a", 5]})


# --- response_format -------------------------------------------------------------

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def test_response_format_shapes_accepted():
    for rf in (
        {"type": "text"},
        {"type": "json_object"},
        {"type": "json_schema", "json_schema": {"name": "n", "schema": SCHEMA}},
        {"type": "json_schema", "json_schema": {"name": "n", "schema": SCHEMA, "strict": True}},
    ):
        assert validate_params({"response_format": rf}).response_format == rf


@pytest.mark.parametrize(
    "rf, detail",
    [
        ({"type": "yaml"}, "type must be text, json_object or json_schema"),
        ({}, "type must be"),
        ({"type": "text", "schema": {}}, "takes no other keys"),
        ({"type": "json_schema"}, "json_schema needs"),
        ({"type": "json_schema", "json_schema": {"name": "n"}}, "json_schema needs"),
        ({"type": "json_schema", "json_schema": {"name": 1, "schema": {}}}, "name must be"),
        (
            {"type": "json_schema", "json_schema": {"schema": {"type": 5}}},
            "not a valid JSON Schema",
        ),
        ("json_object", ""),
    ],
)
def test_response_format_bad_shapes_refused(rf, detail):
    msg = refused({"response_format": rf})
    assert msg.startswith("invalid response_format ")
    assert detail in msg
    assert '(allowed: {"type": "text"}' in msg


# --- tools and tool_choice -----------------------------------------------------------


def tool(name: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": name, "description": f"the {name} tool"}
    if parameters is not None:
        fn["parameters"] = parameters
    return {"type": "function", "function": fn}


def test_tools_accepted_up_to_128():
    tools = [tool(f"f{i}", SCHEMA) for i in range(128)]
    assert len(validate_params({"tools": tools}).tools) == 128


def test_tools_over_128_refused():
    msg = refused({"tools": [tool(f"f{i}") for i in range(129)]})
    assert msg.startswith("invalid tools ") and "at most 128 tools" in msg


@pytest.mark.parametrize(
    "tools, detail",
    [
        ([{"type": "function", "function": {"description": "no name"}}], "function.name"),
        ([{"type": "function", "function": {"name": ""}}], "function.name"),
        ([{"type": "retrieval"}], 'needs {"type": "function"'),
        ([{"type": "function", "function": "f"}], 'needs {"type": "function"'),
        ([tool("f", {"type": 5})], "not a valid JSON Schema"),
        ([{"type": "function", "function": {"name": "f", "parameters": []}}], "JSON Schema object"),
        ([1], ""),
        ({"type": "function"}, ""),
        ([tool("f", {"type": "object"}), tool("f", {"type": "object"})], "already named 'f'"),
    ],
)
def test_bad_tools_refused(tools, detail):
    msg = refused({"tools": tools})
    assert msg.startswith("invalid tools ") and detail in msg


@pytest.mark.parametrize(
    "choice",
    ["auto", "none", "required", {"type": "function", "function": {"name": "f"}}],
)
def test_tool_choice_forms_accepted(choice):
    p = validate_params({"tools": [tool("f")], "tool_choice": choice})
    assert p.tool_choice == choice
    assert p.forced_tool() == ("f" if isinstance(choice, dict) else None)


@pytest.mark.parametrize(
    "choice",
    [
        "always",
        "",
        {"type": "function"},
        {"type": "function", "function": {}},
        {"type": "function", "function": {"name": 3}},
        {"type": "tool", "function": {"name": "f"}},
        ["auto"],
    ],
)
def test_tool_choice_bad_forms_refused(choice):
    msg = refused({"tools": [tool("f")], "tool_choice": choice})
    assert msg.startswith("invalid tool_choice ")
    assert "auto, none, required" in msg


def merged(**values: Any) -> GenerationParams:
    return merge([Layer("flag", values)]).params


def test_tool_choice_needs_tools_in_the_merged_request():
    """Checked once the layers are merged, before any model loads (not per layer:
    --tool-choice may come from a flag and the tools from a preset)."""
    assert merged(tool_choice="none").tool_choice == "none"
    for choice in ("auto", "required", {"type": "function", "function": {"name": "f"}}):
        with pytest.raises(UsageError) as info:
            merged(tool_choice=choice)
        msg = str(info.value)
        assert msg.startswith("invalid tool_choice") and "needs tools" in msg
    p = merge([Layer("preset", {"tools": [tool("f")]}), Layer("flag", {"tool_choice": "required"})])
    assert p.params.tool_choice == "required"


def test_tool_choice_must_name_a_given_tool():
    with pytest.raises(UsageError) as info:
        merged(
            tools=[tool("f"), tool("g")],
            tool_choice={"type": "function", "function": {"name": "h"}},
        )
    msg = str(info.value)
    assert "'h'" in msg and "no such tool" in msg and "f, g" in msg
    ok = merged(
        tools=[tool("f"), tool("g")], tool_choice={"type": "function", "function": {"name": "g"}}
    )
    assert ok.forced_tool() == "g"


def test_tier_values():
    assert validate_params({"tier": "turbo"}).tier == "turbo"
    assert validate_params({"tier": "standard"}).tier == "standard"
    msg = refused({"tier": "fast"})
    assert "invalid tier 'fast'" in msg and "standard or turbo" in msg


# --- property-based: every value in range accepted, every finite value outside refused ---


def _inside(name: str) -> st.SearchStrategy:
    lo, hi, is_int = NUMERIC[name]
    return st.integers(lo, hi) if is_int else st.floats(lo, hi)


def _outside(name: str) -> st.SearchStrategy:
    lo, hi, is_int = NUMERIC[name]
    if is_int:
        return st.integers(max_value=lo - 1) | st.integers(min_value=hi + 1)
    finite = {"allow_nan": False, "allow_infinity": False}
    return st.floats(max_value=lo, exclude_max=True, **finite) | st.floats(
        min_value=hi, exclude_min=True, **finite
    )


@pytest.mark.parametrize("name", list(NUMERIC))
@HYPO
@given(data=st.data())
def test_any_value_in_range_accepted(name, data):
    value = data.draw(_inside(name))
    assert getattr(validate_params({name: value}), name) == value


@pytest.mark.parametrize("name", list(NUMERIC))
@HYPO
@given(data=st.data())
def test_any_finite_value_outside_refused(name, data):
    value = data.draw(_outside(name))
    msg = refused({name: value})
    assert msg.startswith(f"invalid {name} {json.dumps(value)} ")
    assert msg.endswith(f"(allowed: {allowed(name)})")


@pytest.mark.parametrize("name", FLOATS)
@HYPO
@given(data=st.data())
def test_any_float_in_range_accepted_as_flag_text(name, data):
    value = data.draw(_inside(name))
    assert getattr(flags(**{name: repr(value)}), name) == value


@pytest.mark.parametrize("name", list(NUMERIC))
@HYPO
@given(data=st.data())
def test_any_value_outside_refused_as_flag_text(name, data):
    value = data.draw(_outside(name))
    msg = flag_error(**{name: repr(value)})
    assert msg.startswith(f"invalid {name} ") and allowed(name) in msg


# --- the flag layer: text parsed to the parameter's type -----------------------------


@pytest.mark.parametrize("name", list(NUMERIC))
def test_flag_edges_accepted(name):
    low, high, _, _ = EDGES[name]
    lo, hi, _ = NUMERIC[name]
    assert getattr(flags(**{name: low}), name) == lo
    assert getattr(flags(**{name: high}), name) == hi


@pytest.mark.parametrize("name", list(NUMERIC))
def test_flag_just_past_refused(name):
    _, _, below, above = EDGES[name]
    for text in (below, above):
        msg = flag_error(**{name: text})
        assert msg.startswith(f"invalid {name} {text!r} ")  # quoted as typed, never 1.0 for 1
        assert f"(allowed: {allowed(name)})" in msg


@pytest.mark.parametrize("name", list(NUMERIC))
@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "abc", "", "1,5"])
def test_flag_text_not_a_number_refused(name, text):
    msg = flag_error(**{name: text})
    assert msg == f"invalid {name} {text!r} (allowed: {allowed(name)})"


@pytest.mark.parametrize("name", INTS)
def test_flag_integer_refuses_a_fraction(name):
    assert flag_error(**{name: "1.5"}).startswith(f"invalid {name} '1.5' ")
    with pytest.raises(UsageError):
        parse_value(name, "1e3")


def test_parse_value_types():
    t, k = parse_value("temperature", "1"), parse_value("top_k", "40")
    assert (t, type(t)) == (1.0, float)
    assert (k, type(k)) == (40, int)
    assert parse_value("seed", str(2**64 - 1)) == 2**64 - 1


def test_flag_stop_limits():
    assert flags(stop=["x" * 256]).stop == ["x" * 256]
    assert flags(stop=["a", "b", "c", "d"]).stop == ["a", "b", "c", "d"]
    assert "longer than 256" in flag_error(stop=["x" * 257])
    assert "at most 4" in flag_error(stop=["a", "b", "c", "d", "e"])


def test_flag_tier():
    assert flags(tier="turbo").tier == "turbo"
    assert flags(tier="standard").tier == "standard"
    assert flag_error(tier="fast").startswith("invalid tier 'fast'")


def test_flag_response_format(tmp_path: Path):
    assert flags(json_mode=True).response_format == {"type": "json_object"}
    assert flags(response_format="text").response_format == {"type": "text"}
    assert flags(response_format="json_object").response_format == {"type": "json_object"}
    assert "invalid --response-format 'yaml'" in flag_error(response_format="yaml")
    schema = tmp_path / "person.json"
    schema.write_text(json.dumps(SCHEMA))
    rf = flags(json_schema=schema).response_format
    assert rf == {
        "type": "json_schema",
        "json_schema": {"name": "person", "schema": SCHEMA, "strict": True},
    }
    assert "only one of" in flag_error(json_mode=True, json_schema=schema)
    assert "only one of" in flag_error(json_mode=True, response_format="text")


def test_flag_json_schema_bad_files(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": 5}')
    assert "not a valid JSON Schema" in flag_error(json_schema=bad)
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "object",')
    assert "neither valid JSON nor valid YAML" in flag_error(json_schema=broken)
    prose = tmp_path / "prose.txt"
    prose.write_text("just some words")
    assert flag_error(json_schema=prose).startswith("invalid response_format")
    assert "cannot read" in flag_error(json_schema=tmp_path / "missing.json")


def test_flag_tools_files(tmp_path: Path):
    tools = [tool("get_weather", {"type": "object", "properties": {"city": {"type": "string"}}})]
    jf = tmp_path / "tools.json"
    jf.write_text(json.dumps(tools))
    assert flags(tools=jf).tools == tools
    yf = tmp_path / "tools.yaml"
    yf.write_text("- type: function\n  function:\n    name: get_weather\n")
    assert flags(tools=yf).tools[0]["function"]["name"] == "get_weather"
    p = flags(tools=jf, tool_choice="get_weather")
    assert p.tool_choice == {"type": "function", "function": {"name": "get_weather"}}
    for word in ("auto", "none", "required"):
        assert flags(tools=jf, tool_choice=word).tool_choice == word
    many = tmp_path / "many.json"
    many.write_text(json.dumps([tool(f"f{i}") for i in range(129)]))
    assert "at most 128" in flag_error(tools=many)
    noname = tmp_path / "noname.json"
    noname.write_text(json.dumps([{"type": "function", "function": {"description": "x"}}]))
    assert "function.name" in flag_error(tools=noname)


def test_tools_active_and_response_kind_are_derived_once():
    tools = [{"type": "function", "function": {"name": "f"}}]
    assert not GenerationParams().tools_active
    assert GenerationParams(tools=tools).tools_active
    assert GenerationParams(tools=tools, tool_choice="auto").tools_active
    assert not GenerationParams(tools=tools, tool_choice="none").tools_active
    assert GenerationParams().response_kind == "text"
    assert GenerationParams(response_format={"type": "text"}).response_kind == "text"
    assert GenerationParams(response_format={"type": "json_object"}).response_kind == "json_object"
    schema = {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}}}
    assert GenerationParams(response_format=schema).response_kind == "json_schema"
    assert "tools_active" not in PARAM_NAMES and "response_kind" not in PARAM_NAMES


@pytest.mark.parametrize(
    ("name", "text"), [("temperature", "-1"), ("top_p", "2"), ("top_k", "201"), ("min_p", "1e1")]
)
def test_an_out_of_range_value_is_quoted_as_typed_by_every_parser(name, text):
    """`--temperature -1` is reported as '-1', never as -1.0: by the flag, by
    chat's /set and by --sweep alike (one parser, one message)."""
    from oruel_cli.chat.commands import parse_set
    from oruel_cli.cli.compare import parse_sweep

    expected = f"invalid {name} {text!r} (allowed: {allowed(name)})"
    assert flag_error(**{name: text}) == expected
    for parse in (lambda: parse_set(name, text), lambda: parse_sweep(f"{name}={text}")):
        with pytest.raises(UsageError) as info:
            parse()
        assert str(info.value) == expected


@pytest.mark.parametrize("word", ["yes", "On", "0", "FALSE"])
def test_booleans_and_names_read_the_same_in_set_and_sweep(word):
    from oruel_cli.chat.commands import parse_set
    from oruel_cli.cli.compare import parse_sweep

    value = word.lower() in ("yes", "on", "1", "true")
    assert parse_set("stream", word) == {"stream": value}
    assert parse_sweep(f"stream={word}") == ("stream", [value])
    assert parse_sweep("Top-P=0.5") == ("top_p", [0.5])  # named as /set names it
    assert parse_set("Top-P", "0.5") == {"top_p": 0.5}
    with pytest.raises(UsageError) as a:
        parse_set("stream", "maybe")
    with pytest.raises(UsageError) as b:
        parse_sweep("stream=maybe")
    assert str(a.value) == str(b.value)
