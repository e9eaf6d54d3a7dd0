"""cli/lazy_options.py: an option left out is not coerced (no pydantic
TypeAdapter built for it), and every given value still is, through the real
CLI in-process."""

from __future__ import annotations

import pytest
from support.cli_inproc import in_process_cli
from typer import _adapters


@pytest.fixture
def cli(monkeypatch, capsys):
    return in_process_cli(monkeypatch, capsys, columns=100)


@pytest.fixture
def built(monkeypatch):
    """The annotations Typer builds a TypeAdapter for, in order."""
    seen: list[object] = []
    real = _adapters.try_build_adapter

    def counting(annotation, parameter_info):  # noqa: ANN001, ANN202
        seen.append(annotation)
        return real(annotation, parameter_info)

    monkeypatch.setattr(_adapters, "try_build_adapter", counting)
    return seen


def test_a_card_coerces_only_its_argument(cli, built):
    """params explain has ~40 options (the demo's). Given none, Typer builds
    adapters only for NAME, the flags with a callback (--version, completion)
    and the repeatable options (their empty value becomes a list)."""
    from typer.main import get_command

    from oruel_cli.cli.main import build_app

    explain = get_command(build_app("params")).commands["params"].commands["explain"]
    assert len(explain.params) > 35
    res = cli("params", "explain", "temperature")
    assert res.code == 0 and "temperature" in res.out
    assert len(built) <= 12, built
    assert sum(a is str for a in built) == 1  # NAME; not one of the str options


def test_a_given_option_is_still_coerced_and_checked(cli, built):
    res = cli("bench", "--tokens", "3")
    assert "--tokens" in res.error() and "greater than or equal to 8" in res.error()
    assert int in built


def test_a_left_out_option_is_none_and_a_given_one_its_value(cli):
    res = cli("params", "explain", "top_k", "--values", "1,5")
    assert "--values and --output-json go with --demo PROMPT" in res.error()
