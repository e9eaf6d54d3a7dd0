"""The `oruel` script's entry point: a Ctrl-C or SIGTERM at any moment exits 130
with one line, never a traceback or a bare death by signal.

Two moments need care here. While the CLI is still importing (its first
~0.15 s) a signal only sets a flag. And an interrupted run ends with
`os._exit(130)` after flushing, not through the interpreter's own exit: CPython
remembers a KeyboardInterrupt that once escaped code run by `exec()` of a
string (dataclasses and namedtuple build their methods that way, so a Ctrl-C
during any later lazy import can do it) and, at exit, kills itself with SIGINT
even when that KeyboardInterrupt was caught and turned into exit 130.

A signal ignored when the process started (SIGINT in a shell script's
background job) stays ignored throughout (see `signals.py`).
"""

import os
import signal
import sys

from .signals import install, quiet_unraisable, raise_interrupt

INTERRUPTED = 130


def main() -> None:
    # While importing, a signal only sets a flag: a KeyboardInterrupt raised
    # inside some library's import can be swallowed by its own error handling
    # (seen: a Ctrl-C at 0.05 s was lost and the reply ran to the end).
    caught: list[int] = []
    handlers = install(lambda n, f: caught.append(n))  # none for a signal ignored on start
    sys.unraisablehook = quiet_unraisable
    from .cli.main import main as cli_main

    try:
        for s in handlers:  # SIGTERM the same as a Ctrl-C from here on, both remembered
            signal.signal(s, raise_interrupt)
        if caught:  # checked after the handlers are back, so no signal falls between
            raise KeyboardInterrupt
        cli_main()  # turns a KeyboardInterrupt into its line and SystemExit(130)
    except KeyboardInterrupt:  # came before cli_main was running: nothing is open yet
        print("oruel: interrupted", file=sys.stderr)
        _exit_now(INTERRUPTED)
    except SystemExit as e:
        if e.code == INTERRUPTED:
            _exit_now(INTERRUPTED)
        raise


def _exit_now(code: int) -> None:
    """Flush what was printed and exit with `code`, skipping the interpreter's
    exit (see the module docstring); everything the command wrote is closed by
    now, its `with` blocks having run while SystemExit passed through them."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it
            pass
    os._exit(code)
