"""Catching Ctrl-C and SIGTERM, the Unix way: a signal that was ignored when
oruel started stays ignored, every other one is caught where a command says.

A shell runs a script's background job (`oruel run jobs.jsonl &`) with SIGINT
ignored, so that a Ctrl-C meant for the foreground does not reach it; Python
keeps that on start, and so does oruel, in every phase of every command (not
only between the phases that catch it).
"""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager

# Not `typing.TYPE_CHECKING`: importing typing costs ~2 ms, and this module runs
# before the start-up handlers are in place.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    Handler = Callable[[int, Any], Any]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def install(handler: Handler, signals: tuple[int, ...] = STOP_SIGNALS) -> dict[int, Any]:
    """Set `handler` for each of `signals` not ignored now; the handlers it replaced."""
    return {s: signal.signal(s, handler) for s in signals if signal.getsignal(s) != signal.SIG_IGN}


def restore(previous: dict[int, Any]) -> None:
    for s, h in previous.items():
        signal.signal(s, h)


@contextmanager
def catching(handler: Handler, signals: tuple[int, ...] = STOP_SIGNALS) -> Iterator[None]:
    """`handler` for `signals` (those not ignored) inside the block, the old ones after."""
    previous = install(handler, signals)
    try:
        yield
    finally:
        restore(previous)


# The stop signals `raise_interrupt` turned into a KeyboardInterrupt and no one has
# dealt with yet. Library code can drop one: pydantic-core's Rust catches every
# Python error (one raised inside its schema building comes out as a SchemaError;
# others it drops), and Python itself drops one raised in a ctypes callback or a
# finalizer (`quiet_unraisable` keeps that quiet). So the places that must not
# miss a stop look here too (`stop_pending`: the start of a command's stop_signals
# block, main's catch-all, the batch loop after each step), and `forget_stop` is
# called where a KeyboardInterrupt was caught on purpose and the command goes on
# (the chat, between replies).
_pending: list[int] = []


def raise_interrupt(signum: int, frame: object) -> None:
    """The handler from start-up on: a Ctrl-C or SIGTERM raises KeyboardInterrupt
    wherever Python is, and is remembered in case that KeyboardInterrupt is lost."""
    _pending.append(signum)
    raise KeyboardInterrupt


def stop_pending() -> bool:
    """Whether a stop signal came that nothing has dealt with (see `_pending`)."""
    return bool(_pending)


def forget_stop() -> None:
    """A KeyboardInterrupt was caught on purpose and the command goes on."""
    _pending.clear()


def quiet_unraisable(unraisable: Any) -> None:
    """`sys.unraisablehook`: a KeyboardInterrupt that Python could not raise (the
    handler ran inside a ctypes callback, such as llama.cpp's log callback when a
    decode rebuilds its graph, or inside a finalizer) is not printed as 'Exception
    ignored'; `stop_pending` knows of it, and the long loops look there. (It is
    not delivered again: from here the handler could only raise inside this hook.)
    Anything else is printed as Python would."""
    if not issubclass(unraisable.exc_type, KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)


def soft_then_hard(
    soft: Callable[[int], None],
    stopping: Callable[[], bool],
    hard_on: tuple[int, ...] = (signal.SIGINT,),
) -> Handler:
    """The stop policy of long commands: a first signal asks for a gentle stop
    (`soft(signum)`: finish or cancel what is in flight, keep what came); one of
    `hard_on` once `stopping()` is true raises KeyboardInterrupt at once."""

    def handler(signum: int, frame: object) -> None:
        if stopping() and signum in hard_on:
            raise_interrupt(signum, frame)
        soft(signum)

    return handler
