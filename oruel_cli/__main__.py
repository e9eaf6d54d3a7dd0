"""`python -m oruel_cli`: the same as the `oruel` command."""

from .entry import main

main()
