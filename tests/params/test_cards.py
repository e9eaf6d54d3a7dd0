"""The parameter catalogue (oruel_cli/params/cards.py): one complete card per
GenerationParams field, with examples that name real flags and valid values."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
import yaml

from oruel_cli.params.model import PARAM_NAMES
from oruel_cli.params.values import param_type, validate_params

CARD_KEYS = {"summary", "what", "guide", "combines", "examples"}
EXAMPLE_KEYS = {"flag", "preset_yaml", "openai"}
PRESET_KEYS = {"name", "description", "params", "system", "recommended"}

# The flags that set each parameter on chat, ask and run.
PARAM_FLAGS: dict[str, set[str]] = {
    "temperature": {"--temperature", "-t"},
    "top_p": {"--top-p"},
    "top_k": {"--top-k"},
    "min_p": {"--min-p"},
    "seed": {"--seed"},
    "max_tokens": {"--max-tokens"},
    "stop": {"--stop"},
    "frequency_penalty": {"--frequency-penalty"},
    "presence_penalty": {"--presence-penalty"},
    "repetition_penalty": {"--repetition-penalty"},
    "response_format": {"--json", "--response-format", "--json-schema"},
    "stream": {"--no-stream"},
    "tools": {"--tools"},
    "tool_choice": {"--tool-choice"},
    "tier": {"--tier"},
    "logprobs": {"--logprobs"},
    "top_logprobs": {"--logprobs"},
    "logit_bias": {"--logit-bias", "--ban"},
}
# Other flags an example may use beside its own (COMMON options, ask's own).
OTHER_FLAGS = {
    "-m", "--model", "-p", "--preset", "--system", "--show-params", "-v", "--verbose",
    "--ctx", "--threads", "--gpu-layers", "--repack", "--endpoint", "--api-key",
    "--output-json",
}  # fmt: skip
ALL_FLAGS = OTHER_FLAGS.union(*PARAM_FLAGS.values())
# Parameters the OpenAI client has no keyword for: they travel in extra_body.
EXTRA_BODY = {"top_k", "min_p", "repetition_penalty", "tier"}
NUMERIC = [n for n in PARAM_NAMES if param_type(n) in ("number", "integer")]


@pytest.fixture(scope="module")
def cards() -> dict[str, Any]:
    from oruel_cli.params.cards import CARDS

    return CARDS


def oruel_flags(command: str) -> list[str]:
    """The flags of the `oruel ...` part of a shell example (a pipe may come first)."""
    words = shlex.split(command)
    assert "oruel" in words, f"not an oruel command: {command!r}"
    words = words[words.index("oruel") + 1 :]
    return [w for w in words if w.startswith("-") and w != "-"]


def flag_value(command: str, flags: set[str]) -> str | None:
    """The word after the first of `flags` in the command, if any."""
    words = shlex.split(command)
    for i, w in enumerate(words[:-1]):
        if w in flags:
            return words[i + 1]
    return None


def test_flag_table_covers_every_parameter():
    assert set(PARAM_FLAGS) == set(PARAM_NAMES)


def test_one_card_per_parameter(cards):
    missing = [n for n in PARAM_NAMES if n not in cards]
    unknown = [n for n in cards if n not in PARAM_NAMES]
    assert not missing, f"parameters without a card: {missing}"
    assert not unknown, f"cards that name no parameter: {unknown}"
    assert list(cards) == list(PARAM_NAMES), "cards should follow the model's field order"


@pytest.mark.parametrize("name", PARAM_NAMES)
def test_card_is_complete(cards, name):
    card = cards.get(name)
    assert isinstance(card, dict), f"{name}: no card"
    # Exactly these keys: type, range and default come from the pydantic model.
    assert set(card) == CARD_KEYS, f"{name}: keys {sorted(card)}"
    for key in ("summary", "what", "combines"):
        assert isinstance(card[key], str) and card[key].strip(), f"{name}.{key} is empty"
    assert "\n" not in card["summary"].strip(), f"{name}.summary must be one line"
    assert len(card["summary"]) <= 72, f"{name}.summary is too long for the table"

    guide = card["guide"]
    assert isinstance(guide, list) and guide, f"{name}.guide is empty"
    for row in guide:
        assert isinstance(row, dict) and set(row) == {"value", "meaning"}, f"{name}.guide: {row}"
        assert isinstance(row["value"], str) and row["value"].strip(), f"{name}.guide: {row}"
        assert isinstance(row["meaning"], str) and row["meaning"].strip(), f"{name}.guide: {row}"

    examples = card["examples"]
    assert isinstance(examples, dict) and set(examples) == EXAMPLE_KEYS, f"{name}.examples"
    for key in EXAMPLE_KEYS:
        value = examples[key]
        assert isinstance(value, str) and value.strip(), f"{name}.examples.{key} is empty"


@pytest.mark.parametrize("name", PARAM_NAMES)
def test_flag_example_names_a_real_flag_for_its_parameter(cards, name):
    command = cards[name]["examples"]["flag"]
    flags = oruel_flags(command)
    unknown = [f for f in flags if f not in ALL_FLAGS]
    assert not unknown, f"{name}: flag example uses unknown flags {unknown}: {command!r}"
    if flags:
        assert set(flags) & PARAM_FLAGS[name], (
            f"{name}: flag example names none of {sorted(PARAM_FLAGS[name])}: {command!r}"
        )


@pytest.mark.parametrize("name", NUMERIC)
def test_numeric_flag_example_value_is_allowed(cards, name):
    command = cards[name]["examples"]["flag"]
    text = flag_value(command, PARAM_FLAGS[name])
    assert text is not None, f"{name}: no value after the flag in {command!r}"
    value = int(text) if param_type(name) == "integer" else float(text)
    validate_params({name: value})


@pytest.mark.parametrize("name", PARAM_NAMES)
def test_preset_example_is_a_valid_preset_setting_the_parameter(cards, name):
    snippet = yaml.safe_load(cards[name]["examples"]["preset_yaml"])
    assert isinstance(snippet, dict), f"{name}: preset_yaml is not a mapping"
    assert set(snippet) <= PRESET_KEYS, f"{name}: preset_yaml keys {sorted(snippet)}"
    params = snippet.get("params")
    assert isinstance(params, dict) and name in params, f"{name}: preset_yaml does not set it"
    validate_params(params)


@pytest.mark.parametrize("name", PARAM_NAMES)
def test_openai_example_is_python_passing_the_parameter(cards, name):
    code = cards[name]["examples"]["openai"]
    compile(code, f"<{name} openai example>", "exec")
    assert "client.chat.completions.create(" in code
    if name in EXTRA_BODY:
        assert f'extra_body={{"{name}"' in code, f"{name} must travel in extra_body"
    else:
        assert f"{name}=" in code, f"{name}: the call does not pass {name}="
