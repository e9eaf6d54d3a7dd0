"""What the commands share, below both `cli/` (the Typer commands) and the
features (chat, the sweep, the demo...): the common flags and their parsing,
reading the prompt, the stop signals, running and printing a reply."""
