"""Option types several commands declare alike, written once: the runtime
options (how the model runs, not what it generates: chat, ask, run, bench,
serve), the chat-template options (chat, ask, run, serve), the --help panels
they sit in and the placeholders --help shows for their values."""

from pathlib import Path
from typing import Annotated, Any

import typer

from ..runtime import FLASH_ATTN_CHOICES, REPACK_CHOICES
from . import complete

P = "Parameters"
R = "Runtime"
E = "Endpoints"
T = "Chat template"

# What --help shows after each option: what a person types. The flags are taken
# as text (and parsed here), so Typer alone would show every one as <str>.
NUMBER, INTEGER, TEXT, FILE, URL = "NUMBER", "INTEGER", "TEXT", "FILE", "URL"
MODEL = "MODEL"  # a path, a name or an alias
PRESET = "NAME|FILE"
TIERS = ("standard", "turbo")


def choices(values: tuple[str, ...], *more: str) -> str:
    """A choice list as --help shows it: 'auto|on|off'."""
    return "|".join((*values, *more))


# The RUNTIME options (how the model runs, not what it generates), declared once
# for chat, ask, run, bench and serve.
Ctx = Annotated[
    str | None,
    typer.Option("--ctx", metavar=INTEGER, help="Context window per sequence.", rich_help_panel=R),
]
Threads = Annotated[
    str | None,
    typer.Option(
        "--threads", metavar=INTEGER, help="CPU threads (default: physical cores).",
        rich_help_panel=R,
    ),
]  # fmt: skip
GpuLayers = Annotated[
    str | None,
    typer.Option(
        "--gpu-layers", metavar=INTEGER, help="Layers offloaded to a GPU (-1: all).",
        rich_help_panel=R,
    ),
]  # fmt: skip
Repack = Annotated[
    str | None,
    typer.Option(
        "--repack",
        metavar=choices(REPACK_CHOICES),
        autocompletion=complete.choices(*REPACK_CHOICES),
        help="llama.cpp weight repacking (default: auto, off on AMX CPUs).",
        rich_help_panel=R,
    ),
]
FlashAttn = Annotated[
    str | None,
    typer.Option(
        "--flash-attn",
        metavar=choices(FLASH_ATTN_CHOICES),
        autocompletion=complete.choices(*FLASH_ATTN_CHOICES),
        help="llama.cpp flash attention (default: auto, off on the CPU).",
        rich_help_panel=R,
    ),
]
Verbose = Annotated[
    bool, typer.Option("-v", "--verbose", help="Show llama.cpp's own log on stderr.")
]

# -- The chat-template options (chat, ask, run, serve), declared once. --------------
ChatTemplateFile = Annotated[
    Path | None,
    typer.Option(
        "--chat-template", metavar=FILE,
        help="A Jinja chat template that replaces the model's.", rich_help_panel=T,
    ),
]  # fmt: skip
Think = Annotated[
    bool | None,
    typer.Option(
        "--think/--no-think",
        help="Turn the model's thinking on or off with its template's own switch "
        "(enable_thinking, thinking); a template without one is exit 2.",
        rich_help_panel=T,
    ),
]
ReasoningEffort = Annotated[
    str | None,
    typer.Option(
        "--reasoning-effort",
        metavar="low|medium|high",
        help="How long the model thinks, where its template takes reasoning_effort (gpt-oss).",
        rich_help_panel=T,
    ),
]
TemplateArgs = Annotated[
    list[str] | None,
    typer.Option(
        "--template-arg", metavar="KEY=VALUE",
        help="A keyword for the chat template (repeatable; VALUE as JSON, else text).",
        rich_help_panel=T,
    ),
]  # fmt: skip


def template_options(
    file: Path | None, args: list[str] | None
) -> tuple[Path | None, str | None, dict[str, Any]]:
    """--chat-template's file and text (checked to parse: a bad file is exit 2)
    and --template-arg's keywords."""
    from ..errors import read_user_text
    from ..formats.environment import check_source
    from ..formats.kwargs import parse_template_args

    kwargs = parse_template_args(args)
    if file is None:
        return None, None, kwargs
    text = read_user_text(file, "--chat-template", "Jinja")
    check_source(text, f"--chat-template {file}")
    return file, text, kwargs
