"""`oruel ask`: one prompt, one reply, scriptable."""

import json
import sys
from typing import Annotated

import typer

from ..errors import Interrupted, RuntimeFailure, UsageError
from .compare import sweep_option
from .options import TEXT, Carry, CommonOptions, ConversationId, common_options


def read_prompt(prompt: str | None) -> str:
    """PROMPT, stdin, or stdin + a blank line + PROMPT (as `llm` does)."""
    piped = not sys.stdin.isatty() if sys.stdin else False
    if prompt in (None, "-"):
        if not piped:
            raise UsageError("give a PROMPT, or pipe one on stdin")
        text = sys.stdin.read()
        if not text.strip():
            raise UsageError("the prompt on stdin is empty")
        return text.rstrip("\n")
    if not prompt.strip():
        raise UsageError("the PROMPT is empty (give some text, or '-' to read stdin)")
    if piped:
        text = sys.stdin.read()
        if text.strip():
            return f"{text.rstrip()}\n\n{prompt}"
    return prompt


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
) -> None:
    """Send one prompt and print the reply (streamed in a terminal)."""
    from ..config import load_config
    from ..logs.conversation import carry_on
    from ..resolve import ParamResolver
    from .session import RemoteTarget, open_remote, show_params, stop_signals

    config = load_config()
    conv = carry_on(carry, cid)  # a new conversation unless -c or --cid
    layer = conv.layer(preset_given=opts.preset is not None)
    resolver = ParamResolver(config, opts.preset, opts.flag_params(), system or conv.system, layer)
    resolved = resolver.resolve()
    runtime_flags = opts.runtime_flags()
    remote = open_remote(opts, config, resolved.params.tier, runtime_flags)
    text = read_prompt(prompt)
    if remote is None:
        from ..engine.loader import resolve_target

        tier = resolved.params.tier
        target = resolve_target(config, conv.model(opts.model), runtime_flags, tier)
    else:
        target = RemoteTarget(remote)
    from ..engine.loader import CHAT_CTX_CAP
    from .session import ctx_in_effect, generate_reply, has_tools, stream_in_effect

    stream = not no_stream and not output_json and (sys.stdout.isatty() or resolved.params.stream)
    tools = has_tools(resolved.params)
    if opts.show_params:
        why_not = "--output-json" if output_json else "--no-stream" if no_stream else "tools"
        in_effect = stream_in_effect(resolved.params.stream, stream and not tools, why_not)
        show_params(resolved.effective, target, in_effect | ctx_in_effect(target, CHAT_CTX_CAP))
    with stop_signals() as stop:
        backend = remote
        if backend is None:
            from ..backends.local import LocalBackend

            backend = LocalBackend.load(target, opts.verbose, size_to_first=True)
        with backend:
            if stop.requested:
                raise Interrupted()
            messages = [*conv.messages, {"role": "user", "content": text}]
            comp = generate_reply(backend, messages, resolved, stream and not tools, stop)
    cut = comp.finish_reason == "cancelled"  # Ctrl-C or SIGTERM: keep what came, exit 130
    if output_json and not cut and comp.error is None:
        print(json.dumps(comp.to_openai(), ensure_ascii=False, indent=2))
    elif not output_json and (not stream or tools):
        from .session import print_reply

        print_reply(comp)
    from .session import print_stats

    print_stats(comp)
    from ..logs.writer import ReplyLog

    log = ReplyLog.for_command("ask", config, opts.no_log, conv.id)
    log.add(messages, resolved, target.path, comp)  # after the reply: it never costs one
    if comp.error is not None:
        raise RuntimeFailure(f"the generation failed: {comp.error}")
    if cut:
        raise Interrupted()
