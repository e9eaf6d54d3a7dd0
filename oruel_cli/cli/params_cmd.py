"""`oruel params list` and `oruel params explain NAME`."""

from typing import Annotated, Any

import typer

from ..common import complete
from ..errors import UsageError
from ..params.model import PARAM_NAMES
from ..params.values import default_text, param_type, range_text, unknown_name_message
from .compare import demo_options
from .help import examples

params_app = typer.Typer(
    help="The inference parameters: a table, and a reference card each.",
    epilog=examples("oruel params list", "oruel params explain top_p"),
)


def load_cards() -> dict[str, Any]:
    """The catalogue of reference cards (data in params/cards.py, one per parameter)."""
    from ..params.cards import CARDS

    return CARDS


def styled(text: str):  # noqa: ANN201 - rich.text.Text
    """The cards' light Markdown (**bold**, `code`) as rich text, without the
    cost of importing a Markdown renderer at start-up."""
    import re

    from rich.markup import escape
    from rich.text import Text

    marked = escape(text.strip())
    marked = re.sub(r"\*\*(.+?)\*\*", r"[bold]\1[/bold]", marked)
    marked = re.sub(r"`([^`]+)`", r"[cyan]\1[/cyan]", marked)
    return Text.from_markup(marked)


@params_app.command("list", epilog=examples("oruel params list", "oruel params list | less"))
def list_params() -> None:
    """A table of every parameter: type, range, default, what it does."""
    from rich.table import Table

    from ..render import out_console

    cards = load_cards()
    table = Table(title="Inference parameters")
    for col in ("name", "type", "range", "default", "summary"):
        # the one long default (max_tokens: what unset means) wraps in its column
        table.add_column(col, overflow="fold", max_width=30 if col == "default" else None)
    for name in PARAM_NAMES:
        table.add_row(
            name, param_type(name), range_text(name), default_text(name), cards[name]["summary"]
        )
    out_console().print(table)


@params_app.command(
    "explain",
    epilog=examples(
        "oruel params explain temperature",
        'oruel params explain temperature --demo "The capital of France is"',
        'oruel params explain top_k --demo "My favourite fruit is" --values 1,5,40',
    ),
)
@demo_options
def explain(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="A parameter name, e.g. temperature.",
            autocompletion=complete.params,
        ),
    ],
    demo: Annotated[
        str | None,
        typer.Option(
            "--demo",
            metavar="PROMPT",
            help="Draw the real next-token distribution for this prompt.",
        ),
    ] = None,
) -> None:
    """The reference card of one parameter."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from ..params.values import allowed
    from ..render import out_console

    key = name.replace("-", "_")
    if key not in PARAM_NAMES:
        raise UsageError(unknown_name_message(name))
    card = load_cards()[key]
    console = out_console()
    head = Table.grid(padding=(0, 2))
    head.add_row("type", param_type(key))
    head.add_row("allowed", allowed(key))
    head.add_row("default", default_text(key))
    console.print(Panel(head, title=f"[bold]{key}[/]", subtitle=card["summary"]))
    console.print(styled(card["what"]))
    console.print()
    if card.get("guide"):
        guide = Table("value", "meaning", title="Value guide", title_justify="left")
        for row in card["guide"]:
            guide.add_row(str(row["value"]), styled(row["meaning"]))
        console.print(guide)
        console.print()
    console.print(Text("Combines with others", style="bold"))
    console.print(styled(card["combines"]))
    console.print()
    ex = card["examples"]
    for title, code in (
        ("As a flag", ex["flag"]),
        ("In a preset", ex["preset_yaml"]),
        ("With the OpenAI client (against the API, or oruel serve)", ex["openai"]),
    ):
        console.print(Text(title, style="bold"))
        console.print(Text(code.rstrip(), style="cyan"))
        console.print()
