"""`oruel chat`: an interactive session (a piped script of lines is one too).

Thin: resolve the parameters and the model as ask does, load, and hand over
to the chat package (oruel_cli/chat/)."""

import sys
from typing import Annotated

import typer

from ..errors import Interrupted
from .options import CommonOptions, common_options


@common_options
def chat(
    opts: CommonOptions,
    system: Annotated[str | None, typer.Option("--system", help="The system prompt.")] = None,
) -> None:
    """Chat with a model: replies stream as Markdown; /help lists the commands."""
    from ..chat.state import ChatParams, ChatSession
    from ..config import data_dir, load_config
    from .session import RemoteTarget, open_remote, show_params, stop_signals, warn

    config = load_config()
    params = ChatParams(config, opts.preset, opts.flag_params(), system)
    runtime_flags = opts.runtime_flags()
    remote = open_remote(opts, config, params.params.tier, runtime_flags)
    if remote is None:
        from ..engine.loader import resolve_target

        target = resolve_target(config, opts.model, runtime_flags, params.params.tier)
    else:
        target = RemoteTarget(remote)
    if opts.show_params:
        show_params(params.resolved.effective, target)
    with stop_signals() as stop:  # a Ctrl-C while loading: exit 130, no traceback
        from ..chat.repl import Chat, LineReader, TerminalReader

        backend = remote
        if backend is None:
            from ..backends.local import LocalBackend

            backend = LocalBackend.load(target, opts.verbose)
        elif sys.stdin.isatty():
            remote.learn_model_name()  # for the banner; a server down now is told at the first message
    with backend:
        if stop.requested:
            raise Interrupted()
        interactive = sys.stdin.isatty()
        reader = TerminalReader(data_dir() / "chat_history", warn) if interactive else LineReader()
        Chat(ChatSession(params), backend, target, reader).run()
