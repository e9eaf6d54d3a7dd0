"""`oruel models list | info | pull | rm`: what models there are (read from their GGUF
headers), and the Hugging Face ones pulled into the hub cache and removed from it."""

from typing import Annotated

import typer

from ..common import complete
from .help import examples

models_app = typer.Typer(
    help="GGUF models: list them, read their headers, pull them from Hugging Face, remove them.",
    epilog=examples(
        "oruel models list",
        "oruel models pull bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
        "oruel models info default",
    ),
)

RefArg = Annotated[
    str,
    typer.Argument(
        metavar="REF", help="user/repo[:QUANT], hf.co/user/repo[:QUANT] or user/repo/FILE.gguf."
    ),
]


@models_app.command("list", epilog=examples("oruel models list", "oruel ask -m NAME hi"))
def list_models_cmd() -> None:
    """Every model oruel can find, local and pulled: name or REF, size, quant, context, path."""
    from rich.table import Table

    from ..config import load_config
    from ..errors import RuntimeFailure
    from ..hub.cache import pulled_models
    from ..models.gguf import check_gguf, format_size
    from ..models.resolve import list_models
    from ..render import out_console

    table = Table(title="Models")
    for col in ("name", "size", "architecture", "quantization", "context", "path"):
        table.add_column(col, overflow="fold")
    rows = [(name, path, None) for name, path in list_models(load_config())]
    rows += [(m.ref, m.path, m.size) for m in pulled_models()]
    for name, path, size in rows:
        try:
            info = check_gguf(path)
        except RuntimeFailure as e:
            table.add_row(name, "", "[red]unreadable[/]", str(e), "", str(path))
            continue
        table.add_row(
            name,
            format_size(size) if size else info.size_human,
            info.architecture or "?",
            info.quantization or "?",
            str(info.context_length or "?"),
            str(path),
        )
    out_console().print(table)


@models_app.command(
    "pull",
    epilog=examples(
        "oruel models pull bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
        "oruel models pull hf.co/user/repo:Q8_0",
    ),
)
def pull_cmd(ref: RefArg) -> None:
    """Download a GGUF model from Hugging Face into its cache (resumes an interrupted pull)."""
    from ..hub.pull import pull_ref
    from ..hub.ref import parse_ref
    from ..models.gguf import check_gguf

    parsed = parse_ref(ref)
    path = pull_ref(parsed)
    info = check_gguf(path)
    print(f"{parsed}: {path} ({info.size_human}, {info.quantization or '?'})")


@models_app.command(
    "rm",
    epilog=examples(
        "oruel models rm bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
        "oruel models rm user/repo:Q8_0 -y",
    ),
)
def rm_cmd(
    ref: RefArg,
    yes: Annotated[bool, typer.Option("-y", "--yes", help="Do not ask first.")] = False,
) -> None:
    """Delete a pulled model from the Hugging Face cache."""
    from ..hub.ref import parse_ref
    from ..hub.remove import remove_ref

    remove_ref(parse_ref(ref), yes)


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
    rows = info.rows()
    at = next(i for i, (key, _) in enumerate(rows) if key == "chat template") + 1
    rows[at:at] = _template_rows(info)
    for key, value in rows:
        table.add_row(f"[bold]{key}[/]", value)
    console = out_console()
    console.print(table)
    if info.chat_template:
        console.print("\n[bold]chat template[/]")
        console.print(info.chat_template, markup=False, highlight=False)


def _template_rows(info) -> list[tuple[str, str]]:  # noqa: ANN001 - GgufInfo
    """What the chat template supports: tools, a system role, thinking and its switch."""
    from ..engine.template import ChatTemplate
    from ..errors import OruelError

    if not info.chat_template:
        return []
    try:
        support = ChatTemplate(info.chat_template, "", "", origin=str(info.path)).support()
    except OruelError:
        return [("template", "does not parse")]
    return [(f"template {key}", value) for key, value in support.lines()]
