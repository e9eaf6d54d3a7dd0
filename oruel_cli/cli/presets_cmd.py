"""`oruel presets list` and `oruel presets show NAME`."""

from typing import Annotated

import typer

from ..common import complete

presets_app = typer.Typer(help="The use-case presets: built in and your own.")


@presets_app.command("list")
def list_presets() -> None:
    """Every preset, built-in and user, with its parameters."""
    from rich.table import Table

    from ..params.validate import show_value
    from ..presets import all_presets, user_dir
    from ..render import out_console

    table = Table(title="Presets")
    for col in ("name", "parameters", "description", "from"):
        table.add_column(col, overflow="fold")
    for p in all_presets():
        values = ", ".join(f"{k}={show_value(v)}" for k, v in p.params.items())
        origin = "user" if p.path.startswith(str(user_dir())) else "built-in"
        table.add_row(p.name, values, p.description, origin)
    out_console().print(table)


@presets_app.command("show")
def show_preset(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME|FILE",
            help="A preset name or .yaml file.",
            autocompletion=complete.presets,
        ),
    ],
) -> None:
    """One preset in full: its parameters, recommended ranges and system prompt."""
    from rich.syntax import Syntax

    from ..presets import load_preset
    from ..render import out_console

    p = load_preset(name)
    with open(p.path, encoding="utf-8") as f:
        text = f.read()
    console = out_console()
    console.print(f"# {p.path}", style="dim", highlight=False)
    console.print(Syntax(text, "yaml", background_color="default"))
