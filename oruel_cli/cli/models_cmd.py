"""`oruel models list | info`."""

import typer

models_app = typer.Typer(help="Local GGUF models: list them, read their headers.")
