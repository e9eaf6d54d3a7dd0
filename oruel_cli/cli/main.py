"""The `oruel` command: the Typer app and its command groups.

Thin by design: each command parses, resolves and hands over. Heavy modules
(llama_cpp, the engine) are imported inside the commands that need them, so
`oruel params ...`, `presets ...` and `--help` start fast.
"""

import sys
from typing import Annotated

import typer

from .. import __version__
from ..errors import Interrupted, OruelError
from .ask_cmd import ask
from .bench_cmd import bench
from .chat_cmd import chat
from .help import examples, tidy_help, usage_error_line
from .logs_cmd import logs_app
from .models_cmd import models_app
from .params_cmd import params_app
from .presets_cmd import presets_app
from .run_cmd import run
from .serve_cmd import serve

tidy_help()
app = typer.Typer(
    name="oruel",
    help="Chat, one-shot and batch runs of local GGUF models, with the Oru'el inference parameters.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    epilog=examples(
        'oruel ask "Name three citrus fruits"',
        "oruel chat -p chatbot",
        "oruel run jobs.jsonl -o results.jsonl",
    ),
)
app.add_typer(params_app, name="params")
app.add_typer(presets_app, name="presets")
app.add_typer(models_app, name="models")
app.command(epilog=examples("oruel chat", "oruel chat -p creative -t 1.0", "oruel chat -c"))(chat)
app.add_typer(logs_app, name="logs")
app.command(
    no_args_is_help=False,
    epilog=examples(
        'oruel ask "Name three citrus fruits"',
        'cat notes.md | oruel ask "Summarize this" -p summarization',
        'oruel ask -t 0 --output-json "2+2="',
    ),
)(ask)
app.command(
    epilog=examples(
        "oruel run jobs.jsonl",
        "oruel run jobs.jsonl -o out.jsonl --parallel 4 -p extraction",
        "oruel run jobs.jsonl -o out.jsonl --resume",
    )
)(run)
app.command(epilog=examples("oruel bench", "oruel bench --single --tokens 64 -m NAME"))(bench)
app.command(
    epilog=examples(
        "oruel serve",
        "oruel serve -m ~/models/qwen2.5-0.5b.gguf --port 8080 --parallel 8",
        'oruel serve --host 0.0.0.0 --api-key "$KEY"',
    )
)(serve)


def _version(value: bool) -> None:
    if value:
        print(f"oruel {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Chat, one-shot and batch runs of local GGUF models."""


def main() -> None:
    """Entry point: every OruelError becomes one line on stderr and its exit code."""
    try:
        rc = app(standalone_mode=False)
        if rc == Interrupted.exit_code:  # typer returns Exit(130) for a KeyboardInterrupt
            raise Interrupted()
        sys.exit(rc if isinstance(rc, int) else 0)
    except Interrupted:
        print("oruel: interrupted", file=sys.stderr)
        sys.exit(Interrupted.exit_code)
    except OruelError as e:
        print(f"oruel: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("oruel: interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except SystemExit:
        raise
    except typer.Abort:
        print("oruel: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # the parser's usage errors and anything unforeseen
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
