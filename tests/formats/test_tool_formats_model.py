"""Each format's grammar on the real model: a forced call is written in the family's own
syntax, and the same format's parser reads it back as a call valid against the schema."""

from __future__ import annotations

import json

import jsonschema
import pytest

from oruel_cli.engine.driver import Driver
from oruel_cli.engine.engine import Finish, Request
from oruel_cli.engine.loader import open_engine, resolve_target
from oruel_cli.engine.sampling import Grammar, check_grammar
from oruel_cli.engine.template import ChatTemplate, normalize_messages
from oruel_cli.formats.calls import FORMATS, format_named
from oruel_cli.params.model import GenerationParams

pytestmark = pytest.mark.model

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "metric": {"type": "boolean"},
    },
    "required": ["city", "days"],
}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}},
    {
        "type": "function",
        "function": {
            "name": "add",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
        },
    },
]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}


@pytest.fixture(scope="module")
def engine(base_config):
    with open_engine(resolve_target(base_config, None, {}), 1, 2048) as eng:
        yield eng


def forced(engine, fmt_name: str, name: str | None, seed: int = 0) -> str:
    m = engine.model
    template = ChatTemplate(m.chat_template, m.bos_text, m.eos_text)
    messages = normalize_messages(
        [{"role": "user", "content": "What will the weather be in Oslo for 3 days?"}],
        None, TOOLS, template.has_tools,
    )  # fmt: skip
    grammar = Grammar(format_named(fmt_name).grammar(TOOLS, name))
    check_grammar(grammar, m.vocab)
    req = Request(
        id=f"t-{fmt_name}",
        tokens=m.tokenize_prompt(template.render(messages, None)),
        params=GenerationParams(temperature=0.8, seed=seed, max_tokens=300),
        grammar=grammar,
    )
    (finish,) = [ev for ev in Driver(engine).submit(req) if isinstance(ev, Finish)]
    assert finish.finish_reason == "stop", finish
    return finish.text


@pytest.mark.parametrize("fmt_name", FORMATS)
@pytest.mark.parametrize("name", ["get_weather", None])
def test_a_forced_call_is_written_in_the_format_and_parses(engine, fmt_name, name):
    fmt = format_named(fmt_name)
    text = forced(engine, fmt_name, name)
    if fmt_name == "gpt-oss":
        assert "<|channel|>commentary to=functions." in text, text
    elif fmt_name != "llama3":
        assert text.lstrip().startswith(fmt.trigger.rstrip("[")), text
    else:
        assert text.startswith("{") and '"parameters"' in text, text
    parsed = fmt.parse(text)
    assert not parsed.broken and len(parsed.calls) == 1, text
    call = parsed.calls[0]
    assert call.name == (name or call.name) and call.name in SCHEMAS
    jsonschema.validate(call.arguments, SCHEMAS[call.name])
    args = json.loads(call.openai()["function"]["arguments"])
    assert args == call.arguments


@pytest.mark.parametrize("fmt_name", FORMATS)
def test_lazy_grammars_start_at_the_trigger_and_llama_cpp_takes_them(engine, fmt_name):
    fmt = format_named(fmt_name)
    gbnf = fmt.grammar(TOOLS, lazy=True)
    check_grammar(Grammar(gbnf, lazy_trigger=fmt.trigger), engine.model.vocab)
    root = next(line for line in gbnf.splitlines() if line.startswith("root ::="))
    first = json.dumps(fmt.trigger, ensure_ascii=False)[1:-1]
    assert first[:4] in root or fmt_name in ("llama3", "gpt-oss"), root
