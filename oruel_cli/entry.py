"""The `oruel` script's entry point: a Ctrl-C while the CLI is still importing
(its first ~0.15 s) exits 130 with one line, like any later one, not a traceback."""

import sys


def main() -> None:
    try:
        from .cli.main import main as cli_main
    except KeyboardInterrupt:
        print("oruel: interrupted", file=sys.stderr)
        sys.exit(130)
    cli_main()
