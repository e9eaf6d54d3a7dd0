"""The `oruel` script's entry point: a Ctrl-C while the CLI is still importing
(its first ~0.15 s) exits 130 with one line, like any later one, not a traceback."""

import os
import sys


def main() -> None:
    try:
        from .cli.main import main as cli_main
    except KeyboardInterrupt:
        print("oruel: interrupted", file=sys.stderr, flush=True)
        # nothing is open yet; sys.exit here sometimes ended as killed by SIGINT
        # (rc -2) when the interrupt had landed inside the import machinery
        os._exit(130)
    cli_main()
