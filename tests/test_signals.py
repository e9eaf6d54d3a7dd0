"""signals.py: a signal ignored when oruel started stays ignored; the others are
caught inside the block and given back after it."""

from __future__ import annotations

import signal

import pytest

from oruel_cli.signals import catching, install, restore


@pytest.fixture
def sigint_ignored():
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    yield
    signal.signal(signal.SIGINT, before)


def _handler(signum: int, frame: object) -> None:
    pass


def test_catching_sets_and_gives_back_both_handlers():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with catching(_handler):
        assert signal.getsignal(signal.SIGINT) is _handler
        assert signal.getsignal(signal.SIGTERM) is _handler
    assert {s: signal.getsignal(s) for s in before} == before


def test_an_ignored_signal_is_left_ignored(sigint_ignored):
    term_before = signal.getsignal(signal.SIGTERM)
    with catching(_handler):
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is _handler
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) == term_before


def test_install_names_only_what_it_replaced(sigint_ignored):
    previous = install(_handler)
    try:
        assert list(previous) == [signal.SIGTERM]
    finally:
        restore(previous)
    assert signal.getsignal(signal.SIGTERM) is not _handler
