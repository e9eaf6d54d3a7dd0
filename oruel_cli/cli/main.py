"""The `oruel` command: the Typer app and its command groups.

Thin by design: each command parses, resolves and hands over. Heavy modules
(llama_cpp, the engine) are imported inside the commands that need them, so
`oruel params ...`, `presets ...` and `--help` start fast.
"""

import importlib
import os
import sys
from typing import Annotated, Any

import typer

from .. import __version__
from ..errors import Interrupted, OruelError
from ..signals import stop_pending
from .help import examples, tidy_help, usage_error_line
from .lazy_options import skip_absent_coercion

# Each command: its module, the Typer app (a group) or function it exports, its
# examples, and its line in `oruel --help` (the first paragraph of its help; a
# test holds each equal to the command's own). The order is the order of
# `oruel --help`. `main()` builds only the one command its arguments name
# (importing one module and turning one command into click's form instead of
# all of them is most of start-up); the root's own help builds none.
COMMANDS: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "params": (
        "params_cmd",
        "params_app",
        (),
        "The inference parameters: a table, and a reference card each.",
    ),
    "presets": ("presets_cmd", "presets_app", (), "The use-case presets: built in and your own."),
    "models": (
        "models_cmd",
        "models_app",
        (),
        "GGUF models: list them, read their headers, pull them from Hugging Face, remove them.",
    ),
    "chat": (
        "chat_cmd",
        "chat",
        ("oruel chat", "oruel chat -p creative -t 1.0", "oruel chat -c"),
        "Chat with a model: replies stream as Markdown; /help lists the commands.",
    ),
    "logs": (
        "logs_cmd",
        "logs_app",
        (),
        "The reply log: every reply of ask and chat (and of run --log, serve --log), kept "
        "and searchable.",
    ),
    "ask": (
        "ask_cmd",
        "ask",
        (
            'oruel ask "Name three citrus fruits"',
            'cat notes.md | oruel ask "Summarize this" -p summarization',
            'oruel ask -t 0 --output-json "2+2="',
        ),
        "Send one prompt and print the reply (streamed in a terminal).",
    ),
    "run": (
        "run_cmd",
        "run",
        (
            "oruel run jobs.jsonl",
            "oruel run jobs.jsonl -o out.jsonl --parallel 4 -p extraction",
            "oruel run jobs.jsonl -o out.jsonl --resume",
        ),
        "Run every line of a JSONL file; one record per line in the output.",
    ),
    "bench": (
        "bench_cmd",
        "bench",
        ("oruel bench", "oruel bench --single --tokens 64 -m NAME"),
        "Measure tokens/s: prompt processing, single-stream decode, batched decode.",
    ),
    "serve": (
        "serve_cmd",
        "serve",
        (
            "oruel serve",
            "oruel serve -m ~/models/qwen2.5-0.5b.gguf --port 8080 --parallel 8",
            'oruel serve --host 0.0.0.0 --api-key "$KEY"',
        ),
        "Serve the models over HTTP: OpenAI's /v1/chat/completions, /v1/models, /health, "
        "/metrics, and /apply-template (the prompt a body would give the model).",
    ),
}
ROOT_ONLY = "(root)"  # build_app(ROOT_ONLY): every command as its help line, none imported


def _version(value: bool) -> None:
    if value:
        print(f"oruel {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Chat, one-shot and batch runs of local GGUF models."""


def build_app(only: str | None = None) -> typer.Typer:
    """The `oruel` app with every command, or with the one named `only`; with
    ROOT_ONLY, every command as a stand-in that holds its help line only (the
    root's own help and --version need nothing more)."""
    tidy_help()
    skip_absent_coercion()
    app = typer.Typer(
        name="oruel",
        help="Chat, one-shot and batch runs of local GGUF models, "
        "with the Oru'el inference parameters.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        epilog=examples(
            'oruel ask "Name three citrus fruits"',
            "oruel chat -p chatbot",
            "oruel run jobs.jsonl -o results.jsonl",
        ),
    )
    app.callback()(_root)
    for name, (module, attr, example_lines, summary) in COMMANDS.items():
        if only == ROOT_ONLY:
            _stand_in(app, name, summary, group=attr.endswith("_app"))
            continue
        if only is not None and name != only:
            continue
        target = getattr(importlib.import_module(f"{__package__}.{module}"), attr)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            extra: dict[str, Any] = {"no_args_is_help": False} if name == "ask" else {}
            app.command(name, epilog=examples(*example_lines), **extra)(target)
    return app


def _stand_in(app: typer.Typer, name: str, summary: str, group: bool) -> None:
    """A command listed in the root's help as the real one is (groups and plain
    commands are listed in Typer's order of the two kinds), without its module."""
    if group:
        app.add_typer(typer.Typer(help=summary), name=name)
    else:
        app.command(name, help=summary)(lambda: None)


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole app, for tests and tools that walk its commands
        return build_app()
    raise AttributeError(name)


def _named_command(argv: list[str]) -> str | None:
    """The command `argv` names first, when it names one; ROOT_ONLY for no
    arguments, `--help` or `--version` alone; None otherwise (an unknown word:
    the whole app answers it, with the names it resembles).

    Shell completion runs `oruel` with no arguments and the words typed in the
    environment (Typer's protocol: COMP_WORDS for bash, _TYPER_COMPLETE_ARGS
    for zsh and others): those words decide instead."""
    if os.environ.get("_ORUEL_COMPLETE"):
        line = os.environ.get("COMP_WORDS") or os.environ.get("_TYPER_COMPLETE_ARGS") or ""
        words = line.split()[1:]
        return words[0] if words and words[0] in COMMANDS else None
    if not argv or (len(argv) == 1 and argv[0] in ("--help", "--version")):
        return ROOT_ONLY
    return argv[0] if argv[0] in COMMANDS else None


def main() -> None:
    """Entry point: every OruelError becomes one line on stderr and its exit code."""
    try:
        app = build_app(_named_command(sys.argv[1:]))
        rc = app(standalone_mode=False)
        if rc == Interrupted.exit_code:  # typer returns Exit(130) for a KeyboardInterrupt
            raise Interrupted()
        sys.exit(rc if isinstance(rc, int) else 0)
    except (Interrupted, KeyboardInterrupt, typer.Abort) as e:  # Abort: click's Ctrl-C at a prompt
        _exit_interrupted(str(e) if isinstance(e, Interrupted) else "")
    except OruelError as e:
        print(f"oruel: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except SystemExit:
        raise
    except Exception as e:  # the parser's usage errors and anything unforeseen
        if stop_pending():  # a library wrapped a Ctrl-C's KeyboardInterrupt (signals.py)
            _exit_interrupted()
        # Click's ClickException (vendored inside typer since 0.2x, so no `import
        # click`): its message and exit code (2 for usage), said as oruel says
        # its own errors; only "no arguments: here is the help" shows itself.
        if callable(getattr(e, "show", None)) and isinstance(getattr(e, "exit_code", None), int):
            if type(e).__name__ == "NoArgsIsHelpError":
                e.show()
            else:
                print(usage_error_line(e), file=sys.stderr)
            sys.exit(e.exit_code)
        print(f"oruel: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


def _exit_interrupted(what: str = "") -> None:
    """A Ctrl-C or SIGTERM, however it arrived: one line (with what the command
    says of it, if anything: a pull's "pull it again to resume"), exit 130."""
    print(f"oruel: interrupted: {what}" if what else "oruel: interrupted", file=sys.stderr)
    sys.exit(Interrupted.exit_code)
