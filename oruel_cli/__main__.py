"""`python -m oruel_cli`: the same as the `oruel` command."""

from .cli.main import main

main()
