"""The transformers-compatible template environment and the template keywords,
without a model: what each extra offers, and what the sandbox still refuses."""

from __future__ import annotations

from datetime import datetime

import pytest

from oruel_cli.engine.template import ChatTemplate, fold_system, normalize_messages
from oruel_cli.errors import RuntimeFailure, UsageError
from oruel_cli.formats.environment import set_clock
from oruel_cli.formats.kwargs import check_template_kwargs, parse_template_args

USER = [{"role": "user", "content": "hi"}]


def render(source: str, messages=None, tools=None, **kwargs) -> str:
    return ChatTemplate(source, "<s>", "</s>", origin="m.gguf").render(
        messages or USER, tools, kwargs
    )


@pytest.mark.parametrize(
    ("source", "out"),
    [
        ("{{ {'b': 'é', 'a': '<'} | tojson }}", '{"b": "é", "a": "<"}'),  # no HTML escaping
        ("{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}", '{"a": 2, "b": 1}'),
        ("{{ [1, 2] | tojson(indent=2) }}", "[\n  1,\n  2\n]"),
        ("{{ {'a': 1} | tojson(separators=(',', ':')) }}", '{"a":1}'),
        ("{{ 'é' | tojson(ensure_ascii=true) }}", '"\\u00e9"'),
        ("{% for i in [1, 2, 3] %}{% if i == 2 %}{% break %}{% endif %}{{ i }}{% endfor %}", "1"),
        ("{% for i in [1, 2, 3] %}{% if i == 2 %}{% continue %}{% endif %}{{ i }}{% endfor %}",
         "13"),
        ("{% generation %}x{% endgeneration %}y", "xy"),
        ("{% set ns = namespace(n=1) %}{% set ns.n = ns.n + 1 %}{{ ns.n }}", "2"),
        ("{{ dict(a=1)['a'] }}{{ dict.fromkeys(['k'], 0) | tojson }}", '1{"k": 0}'),
        ("  {% if true %}\n  x\n{% endif %}", "  x\n"),  # trim_blocks and lstrip_blocks
        ("{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ tools }}",
         "<s>|</s>|True|None"),
    ],
)  # fmt: skip
def test_the_environment_offers_what_transformers_offers(source, out):
    assert render(source) == out


def test_strftime_now_reads_the_clock():
    set_clock(lambda: datetime(2026, 12, 4))
    try:
        assert render("{{ strftime_now('%d %b %Y') }}") == "04 Dec 2026"
    finally:
        set_clock(None)
    assert render("{{ strftime_now('%Y') }}") == str(datetime.now().year)


def test_template_keywords_reach_the_template_and_a_callers_win():
    src = "{{ enable_thinking }} {{ bos_token }}"
    assert render(src, enable_thinking=False) == "False <s>"
    assert render(src, bos_token="<B>", enable_thinking=1) == "1 <B>"


@pytest.mark.parametrize(
    "source",
    [
        "{% set ns = namespace(_x=1) %}",
        "{% set ns = namespace() %}{% set ns.__class__ = 1 %}",
        "{{ dict.__class__.__subclasses__() }}",
    ],
)
def test_the_sandbox_holds_against_the_extras(source):
    with pytest.raises(RuntimeFailure) as info:
        render(source)
    assert "m.gguf" in str(info.value) and info.value.exit_code == 1


def test_a_template_never_changes_the_callers_messages():
    messages = [{"role": "user", "content": "hi", "meta": {"k": [1]}}]
    with pytest.raises(RuntimeFailure):
        render("{{ messages[0].meta.k.append(2) }}", messages)
    assert messages == [{"role": "user", "content": "hi", "meta": {"k": [1]}}]


def test_messages_reach_the_template_as_transformers_hands_them():
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    given = [
        {"role": "assistant", "content": None, "tool_calls": [call], "name": None},
        {"role": "assistant", "content": "ok", "reasoning": "because"},
    ]
    out = normalize_messages(given, None, None, template_has_tools=True)
    assert out[0] == {"role": "assistant", "content": "", "tool_calls": [call]}
    assert out[1]["thinking"] == out[1]["reasoning_content"] == "because"


def test_fold_system_joins_it_to_the_first_user_message():
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert fold_system(msgs) == [{"role": "user", "content": "S\n\nU"}]
    assert fold_system(msgs[1:]) is None
    assert fold_system(msgs[:1]) is None


def test_a_template_without_a_system_role_gets_it_folded_once(capsys):
    src = (
        "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}"
        "{% endif %}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
    )
    tmpl = ChatTemplate(src, "", "", origin="g.gguf")
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert tmpl.render(msgs, None) == "[user:S\n\nU]"
    assert tmpl.render(msgs, None) == "[user:S\n\nU]"
    assert capsys.readouterr().err.count("has no system role") == 1
    with pytest.raises(UsageError) as info:  # nothing to fold into: the refusal stays
        tmpl.render(msgs[:1], None)
    assert "g.gguf" in str(info.value) and "System role not supported" in str(info.value)


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["enable_thinking=false"], {"enable_thinking": False}),
        (["n=3", 'x=[1, "a"]'], {"n": 3, "x": [1, "a"]}),
        (["date_string=04 Dec 2026"], {"date_string": "04 Dec 2026"}),
        (["reasoning_effort=low"], {"reasoning_effort": "low"}),
        (["empty="], {"empty": ""}),
        (["v=NaN"], {"v": "NaN"}),
        (["a=1", "a=2"], {"a": 2}),
    ],
)
def test_template_args_are_json_values_else_text(items, expected):
    assert parse_template_args(items) == expected


@pytest.mark.parametrize(
    ("items", "words"),
    [
        (["nokey"], "KEY=VALUE"),
        (["=1"], "invalid template keyword"),
        (["a-b=1"], "invalid template keyword"),
        (["messages=[]"], "set by oruel itself"),
        (["add_generation_prompt=false"], "set by oruel itself"),
    ],
)
def test_bad_template_args_are_usage_errors(items, words):
    with pytest.raises(UsageError) as info:
        parse_template_args(items)
    assert words in str(info.value) and info.value.exit_code == 2


def test_chat_template_kwargs_must_be_an_object_of_names():
    assert check_template_kwargs(None) == {}
    assert check_template_kwargs({"enable_thinking": False}) == {"enable_thinking": False}
    for bad in (["x"], "x", {"tools": []}, {"1a": 1}):
        with pytest.raises(UsageError):
            check_template_kwargs(bad)


def test_show_prompt_refuses_what_it_cannot_show():
    import subprocess
    import sys

    for extra in (["--sweep", "temperature=0,1"], ["--endpoint", "http://127.0.0.1:9/v1"]):
        res = subprocess.run(
            [sys.executable, "-m", "oruel_cli", "ask", "--show-prompt", *extra, "hi"],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert res.returncode == 2 and "--show-prompt" in res.stderr, res.stderr
