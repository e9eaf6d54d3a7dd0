"""`oruel ask`: one prompt, one reply, scriptable."""

import json
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
from ..common.prompt import read_prompt
from ..errors import Interrupted, RuntimeFailure, UsageError
from .compare import sweep_option


@sweep_option
@common_options
def ask(
    opts: CommonOptions,
    prompt: Annotated[
        str | None, typer.Argument(metavar="PROMPT", help="The prompt; '-' or absent reads stdin.")
    ] = None,
    system: Annotated[
        str | None, typer.Option("--system", metavar=TEXT, help="The system prompt.")
    ] = None,
    no_stream: Annotated[
        bool, typer.Option("--no-stream", help="Print the reply only once it is whole.")
    ] = False,
    output_json: Annotated[
        bool, typer.Option("--output-json", help="Print OpenAI's chat.completion object.")
    ] = False,
    carry: Carry = False,
    cid: ConversationId = None,
    show_thinking: ShowThinking = False,
    show_prompt: Annotated[
        bool,
        typer.Option(
            "--show-prompt",
            help="Print the exact prompt the model would get (token count on stderr); "
            "generate nothing.",
        ),
    ] = False,
) -> None:
    """Send one prompt and print the reply (streamed in a terminal)."""
    from ..common.command import RemoteTarget, open_remote, show_params, stop_signals
    from ..config import load_config
    from ..logs.conversation import carry_on
    from ..params.layering import ParamResolver, make_layer
    from .tokens import check_ban_local, with_bans

    config = load_config()
    conv = carry_on(carry, cid)  # a new conversation unless -c or --cid
    layer = conv.layer(preset_given=opts.preset is not None)
    resolver = ParamResolver(config, opts.preset, opts.flag_params(), system or conv.system, layer)
    resolved = resolver.resolve()
    runtime_flags = opts.runtime_flags()
    if show_prompt and opts.endpoint:
        raise UsageError(
            "--show-prompt renders a local model's template; a remote server renders its own "
            "(leave --endpoint out)"
        )
    remote = None if show_prompt else open_remote(opts, config, resolved.params.tier, runtime_flags)
    check_ban_local(opts.ban, remote)
    text = read_prompt(prompt)
    if remote is None:
        from ..engine.loader import resolve_target

        tier = resolved.params.tier
        target = resolve_target(config, conv.model(opts.model), runtime_flags, tier)
        opts.apply_template(target)
    else:
        target = RemoteTarget(remote)
    from ..common.command import ctx_in_effect, generate_reply, stream_in_effect
    from ..engine.loader import CHAT_CTX_CAP

    if show_prompt:
        if opts.show_params:
            show_params(resolved.effective, target)
        from .prompt_view import print_prompt

        messages = [*conv.messages, {"role": "user", "content": text}]
        return print_prompt(target, messages, resolved, opts.verbose, output_json)
    picture = resolved.params.logprobs and not output_json  # drawn once the reply is whole
    stream = not no_stream and not output_json and (sys.stdout.isatty() or resolved.params.stream)
    tools = resolved.params.tools_active
    why_not = (
        "--output-json" if output_json else "--no-stream" if no_stream
        else "--logprobs" if picture else "tools"
    )  # fmt: skip
    stream = stream and not picture
    in_effect = stream_in_effect(resolved.params.stream, stream and not tools, why_not)
    in_effect |= ctx_in_effect(target, CHAT_CTX_CAP)
    if opts.show_params and not opts.ban:
        show_params(resolved.effective, target, in_effect)
    with stop_signals() as stop:
        backend = remote
        if backend is None:
            from ..backends.local import LocalBackend

            backend = LocalBackend.load(target, opts.verbose, size_to_first=True)
        with backend:
            if stop.requested:
                raise Interrupted()
            if opts.ban:  # the banned words' tokens, now that the vocabulary is known
                resolver.flag_layer = make_layer(
                    "flag", with_bans(opts.flag_params(), opts.ban, backend)
                )
                resolved = resolver.resolve()
                if opts.show_params:
                    show_params(resolved.effective, target, in_effect)
            messages = [*conv.messages, {"role": "user", "content": text}]
            comp = generate_reply(
                backend, messages, resolved, stream and not tools, stop, show_thinking
            )
    cut = comp.finish_reason == "cancelled"  # Ctrl-C or SIGTERM: keep what came, exit 130
    if output_json and not cut and comp.error is None:
        print(json.dumps(comp.to_openai(), ensure_ascii=False, indent=2))
    elif picture:
        from ..common.command import print_logprobs

        print_logprobs(comp)
    elif not output_json and (not stream or tools):
        from ..common.command import note_thinking, print_reply, print_thinking

        if show_thinking:
            print_thinking(comp)
        elif comp.reasoning_content:
            note_thinking(comp)
        print_reply(comp)
    from ..common.command import print_stats

    print_stats(comp)
    from ..logs.writer import ReplyLog

    log = ReplyLog.for_command("ask", config, opts.no_log, conv.id)
    log.add(messages, resolved, target.path, comp)  # after the reply: it never costs one
    if comp.error is not None:
        raise RuntimeFailure(f"the generation failed: {comp.error}")
    if cut:
        raise Interrupted()
