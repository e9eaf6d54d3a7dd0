"""`oruel models list | info`: what models there are, read from their GGUF headers."""

from typing import Annotated

import typer

from . import complete
from .help import examples

models_app = typer.Typer(
    help="Local GGUF models: list them, read their headers.",
    epilog=examples("oruel models list", "oruel models info default"),
)


@models_app.command("list", epilog=examples("oruel models list", "oruel ask -m NAME hi"))
def list_models_cmd() -> None:
    """Every model oruel can find: name, size, architecture, quantization, context, path."""
    from rich.table import Table

    from ..config import load_config
    from ..errors import RuntimeFailure
    from ..models.gguf import check_gguf
    from ..models.resolve import list_models
    from ..render import out_console

    table = Table(title="Models")
    for col in ("name", "size", "architecture", "quantization", "context", "path"):
        table.add_column(col, overflow="fold")
    for name, path in list_models(load_config()):
        try:
            info = check_gguf(path)
        except RuntimeFailure as e:
            table.add_row(name, "", "[red]unreadable[/]", str(e), "", str(path))
            continue
        table.add_row(
            name,
            info.size_human,
            info.architecture or "?",
            info.quantization or "?",
            str(info.context_length or "?"),
            str(path),
        )
    out_console().print(table)


@models_app.command(
    "info", epilog=examples("oruel models info", "oruel models info ~/models/qwen2.5-0.5b.gguf")
)
def info_cmd(
    model: Annotated[
        str | None,
        typer.Argument(
            metavar="MODEL", help="A path, name or alias.", autocompletion=complete.models
        ),
    ] = None,
) -> None:
    """A model's GGUF header (read without loading the weights)."""
    from rich.table import Table

    from ..config import load_config
    from ..models.gguf import check_gguf
    from ..models.resolve import resolve_model
    from ..render import out_console

    info = check_gguf(resolve_model(model, load_config()))
    table = Table.grid(padding=(0, 2))
    for key, value in info.rows():
        table.add_row(f"[bold]{key}[/]", value)
    console = out_console()
    console.print(table)
    if info.chat_template:
        console.print("\n[bold]chat template[/]")
        console.print(info.chat_template, markup=False, highlight=False)
