"""`oruel chat`: an interactive session (a piped script of lines is one too).

Thin: resolve the parameters and the model as ask does (carrying a logged
conversation on with -c or --cid), load, and hand over to the chat package
(oruel_cli/chat/), which logs every reply."""

import sys
from typing import Annotated

import typer

from ..common.options import (
    TEXT,
    Carry,
    CommonOptions,
    ConversationId,
    ShowThinking,
    common_options,
)
from ..errors import Interrupted


@common_options
def chat(
    opts: CommonOptions,
    system: Annotated[
        str | None, typer.Option("--system", metavar=TEXT, help="The system prompt.")
    ] = None,
    carry: Carry = False,
    cid: ConversationId = None,
    show_thinking: ShowThinking = False,
) -> None:
    """Chat with a model: replies stream as Markdown; /help lists the commands."""
    from ..chat.state import ChatParams, ChatSession
    from ..common.command import RemoteTarget, open_remote, show_params, stop_signals, warn
    from ..config import data_dir, load_config
    from ..logs.conversation import carry_on
    from .tokens import check_ban_local, with_bans

    config = load_config()
    conv = carry_on(carry, cid)  # a new conversation unless -c or --cid
    params = ChatParams(
        config, opts.preset, opts.flag_params(), system or conv.system,
        carried=conv.layer(preset_given=opts.preset is not None),
        system_source="--system" if system else f"conversation {conv.id}",
    )  # fmt: skip
    runtime_flags = opts.runtime_flags()
    remote = open_remote(opts, config, params.params.tier, runtime_flags)
    check_ban_local(opts.ban, remote)
    if remote is None:
        from ..engine.loader import resolve_target

        tier = params.params.tier
        target = resolve_target(config, conv.model(opts.model), runtime_flags, tier)
        opts.apply_template(target)
    else:
        target = RemoteTarget(remote)
    if opts.show_params:
        from ..common.command import ctx_in_effect, stream_in_effect
        from ..engine.loader import CHAT_CTX_CAP

        p = params.params
        in_effect = stream_in_effect(p.stream, sys.stdout.isatty() and not p.tools_active, "tools")
        show_params(
            params.resolved.effective, target, in_effect | ctx_in_effect(target, CHAT_CTX_CAP)
        )
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
        if opts.ban:  # the banned words' tokens, now that the vocabulary is known
            params = ChatParams(
                config, opts.preset, with_bans(opts.flag_params(), opts.ban, backend),
                system or conv.system, carried=conv.layer(preset_given=opts.preset is not None),
                system_source="--system" if system else f"conversation {conv.id}",
            )  # fmt: skip
        from ..logs.writer import ReplyLog

        log = ReplyLog.for_command("chat", config, opts.no_log, conv.id)
        interactive = sys.stdin.isatty()
        reader = TerminalReader(data_dir() / "chat_history", warn) if interactive else LineReader()
        session = ChatSession(params, messages=list(conv.messages))
        Chat(session, backend, target, reader, log, conv.name, show_thinking).run()
