"""How `--help` reads, and how a usage error is said, for every command at once.

Typer's own help shows a type after every flag (`--json <bool>`, `PROMPT
<str>`), braces around a required argument in the usage line
(`{INPUT.jsonl}`) and `[default: 4]` where oruel's own help texts write
"(default: 4)". `tidy_help()` changes those three in one place: a flag that
takes no value shows none, an argument shows its name alone, and a default
reads as the help texts write one. Each command's examples are its `epilog`,
built by `examples()`.

A usage error of the parser (a missing argument, an unknown option, a value
Typer itself refused) is said as oruel says its own: one line
`oruel: error: ...`, exit 2 (`usage_error_line`).
"""

from __future__ import annotations

from typing import Any

DEFAULT = "(default: {})"  # the one way a default is written, in help texts too
_tidied = False


def examples(*lines: str) -> str:
    """A command's epilog: its examples, one a line (rich markup is escaped, so
    a `[...]` in an example stays text)."""
    from rich.markup import escape

    return "[bold]Examples:[/]\n" + "\n".join(escape(line) for line in lines)


def tidy_help() -> None:
    """Apply the three changes to Typer's help (see the module docstring).

    They touch Typer's private help helpers (typer 0.29); where a version
    lacks one, its help stays as Typer draws it. Once per process."""
    global _tidied
    if _tidied:
        return
    _tidied = True
    from typer import core

    for cls in (getattr(core, "TyperCommand", None), getattr(core, "TyperGroup", None)):
        if cls is not None and hasattr(cls, "format_help"):
            cls.format_help = _with_default_string(cls.format_help)
    option, argument = getattr(core, "TyperOption", None), getattr(core, "TyperArgument", None)
    if option is not None and hasattr(option, "display_type_rich"):
        shown = option.display_type_rich

        def option_type(self: Any, ctx: Any) -> str | None:
            return None if getattr(self, "is_flag", False) else shown(self, ctx)

        option.display_type_rich = option_type
    if argument is not None and hasattr(argument, "display_type_rich"):
        argument.display_type_rich = lambda self, ctx: None  # its metavar says what it is
    if argument is not None and hasattr(argument, "_usage_display_name"):
        usage_name = argument._usage_display_name

        def plain_when_required(self: Any) -> str:
            name = usage_name(self)
            if name.startswith("{") and "}" in name:
                name = name[1:].replace("}", "", 1)
            return name

        argument._usage_display_name = plain_when_required


def _with_default_string(format_help: Any) -> Any:
    """`format_help` that first sets how rich help writes a default; typer's
    rich_utils (60 ms of imports) is loaded only when help is drawn."""

    def wrapped(self: Any, ctx: Any, formatter: Any) -> None:
        from typer import rich_utils

        rich_utils.DEFAULT_STRING = DEFAULT
        format_help(self, ctx, formatter)

    return wrapped


def usage_error_line(e: Any) -> str:
    """A parser's error as one line: its message in oruel's words, then where
    the command's help is."""
    message = str(e.format_message()).strip().rstrip(".")
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    ctx = getattr(e, "ctx", None)
    where = f"; see `{ctx.command_path} --help`" if ctx is not None else ""
    return f"oruel: error: {message}{where}"
