"""The `oruel` script's entry point: a Ctrl-C or SIGTERM while the CLI is still
importing (its first ~0.15 s) exits 130 with one line, like any later one, not a
traceback or a bare death by signal."""

import os
import signal
import sys

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def main() -> None:
    # While importing, a signal only sets a flag: a KeyboardInterrupt raised
    # inside some library's import can be swallowed by its own error handling
    # (seen: a Ctrl-C at 0.05 s was lost and the reply ran to the end).
    caught: list[int] = []
    handlers = {s: signal.signal(s, lambda n, f: caught.append(n)) for s in _SIGNALS}
    from .cli.main import main as cli_main

    if caught:
        print("oruel: interrupted", file=sys.stderr, flush=True)
        os._exit(130)  # nothing is open yet
    signal.signal(signal.SIGINT, handlers[signal.SIGINT])
    signal.signal(signal.SIGTERM, _terminate)  # the same as a Ctrl-C from here on
    cli_main()


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
