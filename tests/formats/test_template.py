"""The chat template, without a model: it comes from the GGUF file, so it is
untrusted input rendered in Jinja's immutable sandbox. A template the sandbox
stops, or one that fails, is the model file's fault (exit 1, naming the file);
a template that refuses the messages through raise_exception() is about the
request (exit 2)."""

from __future__ import annotations

import pytest

from oruel_cli.engine.template import CHATML, ChatTemplate
from oruel_cli.errors import RuntimeFailure, UsageError

MODEL = "/models/evil.gguf"
USER = [{"role": "user", "content": "hi"}]

# Each reaches for Python internals, the way a malicious GGUF would (CVE-2024-34359).
ESCAPES = [
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ messages.__class__.__name__ }}",
    "{% set _ = messages.append({'role': 'user', 'content': 'injected'}) %}ok",
    "{{ messages[0].update(content='changed') }}",
]


def render(source: str, messages: list[dict] | None = None) -> str:
    return ChatTemplate(source, "<s>", "</s>", origin=MODEL).render(messages or USER, None)


def test_a_plain_template_renders():
    assert render(CHATML) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


@pytest.mark.parametrize("source", ESCAPES)
def test_the_sandbox_stops_a_template_that_reaches_for_python_internals(source):
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(RuntimeFailure) as info:
        render(source, messages)
    assert info.value.exit_code == 1
    msg = str(info.value)
    assert MODEL in msg and "sandbox" in msg and "\n" not in msg
    assert messages == [{"role": "user", "content": "hi"}]  # nothing was changed


def test_an_unsafe_attribute_printed_alone_shows_nothing():
    # The sandbox gives an undefined value for it: printed, it is empty; used, it raises.
    assert render("[{{ messages.__class__ }}]") == "[]"


@pytest.mark.parametrize("source", ["{{ 1 + 'a' }}", "{{ messages[0].nope.deeper }}"])
def test_a_template_that_fails_is_the_model_files_fault(source):
    with pytest.raises(RuntimeFailure) as info:
        render(source)
    assert info.value.exit_code == 1
    assert MODEL in str(info.value) and "failed" in str(info.value)


def test_a_template_that_does_not_parse_names_the_file():
    with pytest.raises(RuntimeFailure) as info:
        ChatTemplate("{% for m in messages %}", "", "", origin=MODEL)
    assert info.value.exit_code == 1
    assert MODEL in str(info.value) and "does not parse" in str(info.value)


def test_raise_exception_in_the_template_refuses_the_request():
    source = (
        "{% if messages[0]['role'] != 'system' %}{{ raise_exception('System first') }}{% endif %}"
    )
    with pytest.raises(UsageError) as info:
        render(source)
    assert info.value.exit_code == 2
    assert "refused these messages: System first" in str(info.value)
    assert MODEL in str(info.value)
