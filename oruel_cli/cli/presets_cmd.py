"""`oruel presets list` and `oruel presets show NAME`."""

from typing import Annotated

import typer

from ..common import complete
from .help import examples

presets_app = typer.Typer(
    help="The use-case presets: built in and your own.",
    epilog=examples("oruel presets list", "oruel presets show code"),
)


@presets_app.command(
    "list", epilog=examples("oruel presets list", 'oruel ask -p qa "Who wrote Hamlet?"')
)
def list_presets() -> None:
    """Every preset, built-in and user, with its parameters; a bad preset file is
    left out with a warning."""
    from rich.table import Table

    from ..common.command import warn
    from ..params.values import show_value
    from ..presets import listable_presets, user_dir
    from ..render import out_console

    table = Table(title="Presets")
    for col in ("name", "parameters", "description", "from"):
        table.add_column(col, overflow="fold")
    presets, problems = listable_presets()
    for problem in problems:  # listed without it, and said why: `presets show` names it too
        warn(f"{problem} (left out)")
    for p in presets:
        values = ", ".join(f"{k}={show_value(v)}" for k, v in p.params.items())
        origin = "user" if p.path.startswith(str(user_dir())) else "built-in"
        table.add_row(p.name, values, p.description, origin)
    out_console().print(table)


@presets_app.command(
    "show", epilog=examples("oruel presets show creative", "oruel presets show ./mine.yaml")
)
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
