"""Every corpus template renders as transformers renders it, byte for byte.

transformers' `apply_chat_template(..., tokenize=False, add_generation_prompt=True)`
hands the template to `render_jinja_template` with the tokenizer's special
tokens and the caller's keywords, after dropping message keys set to None; the
yardstick here is that function, given what oruel gives its template: the
messages once normalized (content None is "", where transformers would drop
the key and six of these templates would fail; tool calls and results folded
into text for a template that knows no tools). Where a template refuses, both
refuse (a template that fails on an input,
such as Hermes 3's tool-use template or llama.cpp's Phi-4-mini one without
tools, fails in both); where it refuses a system message and oruel folds it into the first
user message, transformers gets the folded messages too.
"""

from __future__ import annotations

import pytest
import transformers.utils.chat_template_utils as hf
from support.template_corpus import CASES, CORPUS, FIXED_NOW, THINKING_OFF, source

from oruel_cli.engine.template import ChatTemplate, fold_system, normalize_messages
from oruel_cli.errors import OruelError, UsageError
from oruel_cli.formats.environment import set_clock


class _FrozenDatetime(hf.datetime):  # type: ignore[misc, valid-type]
    @classmethod
    def now(cls, tz=None):  # noqa: ANN001, ANN206
        return FIXED_NOW


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(hf, "datetime", _FrozenDatetime)
    set_clock(lambda: FIXED_NOW)
    yield
    set_clock(None)


def transformers_render(name: str, messages, tools, kwargs) -> str:
    _, bos, eos, _ = CORPUS[name]
    rendered, _ = hf.render_jinja_template(
        conversations=[messages],
        tools=tools,
        chat_template=source(name),
        add_generation_prompt=True,
        **{"bos_token": bos, "eos_token": eos, **kwargs},
    )
    return rendered[0]


def both(name: str, messages, tools, extra=None):
    """(oruel's prompt or its refusal, transformers' prompt or its refusal)."""
    _, bos, eos, own = CORPUS[name]
    kwargs = {**own, **(extra or {})}
    tmpl = ChatTemplate(source(name), bos, eos, origin=name)
    given = normalize_messages(messages, None, tools, tmpl.has_tools)
    offered = tools if tmpl.has_tools else None
    try:
        ours: str | Exception = tmpl.render(given, offered, kwargs)
    except OruelError as e:
        ours = e
    hf_messages = fold_system(given) if tmpl.folded else given
    try:
        theirs: str | Exception = transformers_render(name, hf_messages, offered, kwargs)
    except Exception as e:  # noqa: BLE001 - a refusal, or a template that fails on this input
        theirs = e
    return ours, theirs


PAIRS = [(n, c) for n in CORPUS for c in CASES]


@pytest.mark.parametrize(("name", "case"), PAIRS, ids=[f"{n}-{c}" for n, c in PAIRS])
def test_oruel_renders_as_transformers_does(name, case):
    messages, tools = CASES[case]
    ours, theirs = both(name, messages, tools)
    if isinstance(theirs, Exception):
        assert isinstance(ours, OruelError), f"transformers refused ({theirs}), oruel gave {ours!r}"
        assert name in str(ours)
        if isinstance(ours, UsageError):  # the template's own raise_exception()
            assert "refused these messages" in str(ours)
    else:
        assert ours == theirs


@pytest.mark.parametrize("name", sorted(THINKING_OFF))
def test_thinking_off_renders_as_transformers_does(name):
    messages, tools = CASES["user"]
    ours, theirs = both(name, messages, tools, THINKING_OFF[name])
    on, _ = both(name, messages, tools)
    assert isinstance(ours, str) and ours == theirs
    assert ours != on  # the switch changed the prompt


def test_every_template_knows_what_it_supports():
    support = {n: ChatTemplate(source(n), "", "").support() for n in CORPUS}
    assert not support["gemma-2"].system_role and support["llama-3.2"].system_role
    assert support["qwen3"].switches == ("enable_thinking",)
    assert support["gpt-oss"].switches == ("reasoning_effort",)
    assert support["hermes-3"].tools and not support["phi-3.5"].tools
    assert support["deepseek-r1-distill"].thinking and not support["gemma-2"].thinking
