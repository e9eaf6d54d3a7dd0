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
from .logs_cmd import logs_app
from .models_cmd import models_app
from .params_cmd import params_app
from .presets_cmd import presets_app
from .run_cmd import run
from .serve_cmd import serve

app = typer.Typer(
    name="oruel",
    help="Chat, one-shot and batch runs of local GGUF models, with the Oru'el inference parameters.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(params_app, name="params")
app.add_typer(presets_app, name="presets")
app.add_typer(models_app, name="models")
app.command()(chat)
app.add_typer(logs_app, name="logs")
app.command(no_args_is_help=False)(ask)
app.command()(run)
app.command()(bench)
app.command()(serve)


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
        # click`): it knows how to show itself and its exit code (2 for usage).
        if callable(getattr(e, "show", None)) and isinstance(getattr(e, "exit_code", None), int):
            e.show()
            sys.exit(e.exit_code)
        print(f"oruel: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
