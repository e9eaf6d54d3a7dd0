"""What the commands share (ask, chat, run, serve, the sweep, the demo): the
stop signals, warnings and --show-params, opening --endpoint's backend, and
running one request on a backend, rendered as it streams, with its stats line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from ..backends.base import Backend
from ..engine.reply import Completion, json_warning
from ..errors import Interrupted, UsageError
from ..params.layering import Effective, Resolved
from ..render import (
    MarkdownStream,
    err_console,
    markdown,
    out_console,
    quiet_terminal,
    rich_stdout,
    warn,
)
from ..signals import catching, soft_then_hard, stop_pending


def check_no_endpoint(opts: Any, what: str = "this command") -> None:
    """For what runs on the local engine only (--sweep, --demo): --endpoint is refused."""
    if opts.endpoint:
        raise UsageError(f"{what} runs on the local engine: it does not take --endpoint")


def open_remote(
    opts: Any, config: Any, tier: str, runtime_flags: dict[str, Any], model: str | None = None
) -> Any:
    """The RemoteBackend of --endpoint (or the config's endpoints), else None (a
    local model: no endpoint, or --local). RUNTIME flags given with it get one
    notice: they do nothing there."""
    if opts.local:
        if opts.endpoint or opts.api_key is not None or opts.timeout is not None:
            raise UsageError(
                "--local runs on the local model: give it without --endpoint, --api-key "
                "and --timeout"
            )
        return None
    from ..backends.endpoints import (
        model_flag_name,
        parse_timeout,
        resolve_endpoints,
        runtime_notice,
    )

    timeout = parse_timeout(opts.timeout)
    endpoints = resolve_endpoints(opts.endpoint, opts.api_key, config, tier)
    if not endpoints:
        if opts.api_key is not None or opts.timeout is not None:
            raise UsageError(
                "--api-key and --timeout go with --endpoint (or the config's endpoints)"
            )
        return None
    if notice := runtime_notice(runtime_flags):
        warn(notice)
    if getattr(opts, "chat_template", None) is not None:
        raise UsageError(
            "--chat-template replaces a local model's template; a remote server renders "
            "its own (pass keywords with --template-arg)"
        )
    from ..backends.remote import RemoteBackend
    from ..formats.kwargs import parse_template_args

    backend = RemoteBackend(endpoints, model_flag_name(model or opts.model, config, tier), timeout)
    from ..formats.kwargs import check_effort, thinking_kwargs

    backend.template_kwargs = parse_template_args(getattr(opts, "template_arg", None))
    effort = check_effort(getattr(opts, "reasoning_effort", None))
    backend.template_kwargs |= thinking_kwargs(
        getattr(opts, "think", None), effort, None, "the server"
    )
    return backend


class RemoteTarget:
    """What --show-params, /params and the log show for a remote backend in place
    of a model file and its runtime: the endpoints (the log: the one that answered)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.runtime = self

    @property
    def path(self) -> str:
        return self.backend.path

    def model_line(self) -> str:
        return f"model = {self.backend.model_flag or '(each endpoint: below)'}"

    def lines(self) -> list[str]:
        out = []
        for ep in self.backend.endpoints:
            model = ep.model or self.backend.model_flag or "the first the server lists"
            api = f", api: {ep.api}" if ep.api else ""  # unset: asked of the server
            out.append(f"endpoint = {ep.url} (model: {model}{api})")
        out.append(f"timeout = {self.backend.timeout:g} s")
        return out


def show_params(effective: Effective, target: Any, in_effect: dict[str, str] | None = None) -> None:
    """--show-params: each parameter with its source, then the runtime settings.

    `in_effect` replaces a line by what the command really does and why
    ("stream": "true (stdout is a terminal)"), where that differs from the
    parameter's own value (a terminal streams, the context has a size)."""
    model = target.model_line() if hasattr(target, "model_line") else f"model = {target.path}"
    lines = effective.lines() + [model] + target.runtime.lines()
    for key, text in (in_effect or {}).items():
        lines = [f"{key} = {text}" if ln.startswith(f"{key} = ") else ln for ln in lines]
    print("\n".join(lines), file=sys.stderr)


def stream_in_effect(param: bool | None, streams: bool, why_not: str = "") -> dict[str, str]:
    """The stream line when the command does otherwise than the parameter says."""
    if streams == bool(param):
        return {}
    if streams:
        return {"stream": "true (stdout is a terminal: replies stream there)"}
    return {"stream": f"false ({why_not or 'the reply is printed whole'})"}


def ctx_in_effect(target: Any, cap: int, known: int | None = None) -> dict[str, str]:
    """The ctx line with the context's size when no --ctx sets it: the model's
    training context (read from the file's header), at most `cap`."""
    runtime = getattr(target, "runtime", None)
    if getattr(runtime, "ctx", 0) is None:  # a local model without --ctx
        from ..errors import OruelError
        from ..models.gguf import check_gguf

        try:
            trained = check_gguf(target.path).context_length
        except OruelError:  # the load says what is wrong with the file
            trained = None
        size = known or min(trained or cap, cap)
        what = f"the model's training context {trained}" if trained else "unknown training context"
        return {"ctx": f"{size} (default: {what}, at most {cap})"}
    return {}


@dataclass
class Stop:
    """What a Ctrl-C or SIGTERM asks for: set by the signal handler, which also
    cancels the request attached (a cancel only posts to the driver's inbox, so
    it is safe inside a handler; the request ends between two decodes)."""

    requested: bool = False
    _cancel: Callable[[], None] | None = None

    def attach(self, cancel: Callable[[], None]) -> None:
        self._cancel = cancel
        if self.requested:  # the signal came before the request existed
            cancel()

    def fire(self) -> None:
        self.requested = True
        if self._cancel is not None:
            self._cancel()


@contextmanager
def stop_signals() -> Iterator[Stop]:
    """Ctrl-C and SIGTERM set a flag (and cancel the attached request) instead
    of raising wherever Python happens to be (a KeyboardInterrupt inside
    llama.cpp's log callback during a model load is swallowed by ctypes): the
    caller checks the flag after loading. A second Ctrl-C raises at once.

    A stop that came before, whose KeyboardInterrupt some library dropped
    (signals.stop_pending), ends the command here, before anything is loaded."""

    stop = Stop()
    with catching(soft_then_hard(lambda signum: stop.fire(), lambda: stop.requested)):
        if stop_pending():  # checked once the flag is in place, so no signal falls between
            raise Interrupted()
        yield stop


def generate_reply(
    backend: Backend,
    messages: list[dict[str, Any]],
    resolved: Resolved,
    stream: bool,
    stop: Stop,
    show_thinking: bool = False,
) -> Completion:
    """Run one request; with stream, show deltas as they come (Markdown live in
    a terminal; thinking dim and folded, or whole with `show_thinking`). A stop
    (stop_signals) ends it 'cancelled', keeping what came."""
    from ..backends.base import Thought

    params = resolved.params
    if w := json_warning(messages, params, resolved.system):
        warn(w)
    handle = backend.start(messages, params, resolved.system)
    stop.attach(handle.cancel)
    live = MarkdownStream() if stream else None
    with quiet_terminal() if live and live.live else nullcontext():
        try:
            for text in handle:
                if live and isinstance(text, Thought):
                    live.think(text, show_thinking)
                elif live:
                    live.add(text)
        finally:
            if live:
                live.close()
    comp = handle.result()
    if live and comp.reasoning_content and not show_thinking:
        note_thinking(comp)
    for w in comp.warnings:
        warn(w)
    return comp


def note_thinking(comp: Completion, how: str = "--show-thinking") -> None:
    """The dim line that says a reply was thought out, and how to see the thinking."""
    err_console().print(
        f"[dim]thought for {comp.reasoning_tokens} tokens ({how} shows it)[/]", highlight=False
    )


def print_thinking(comp: Completion) -> None:
    """A whole reply's thinking (--show-thinking): dim on a terminal, then a blank line."""
    if not comp.reasoning_content:
        return
    if rich_stdout():
        from rich.text import Text

        out_console().print(Text(comp.reasoning_content, style="dim"))
    else:
        print(comp.reasoning_content)
    print()


def print_reply(comp: Completion) -> None:
    """A whole reply (ask's and chat's alike): its text (Markdown on a terminal),
    then any tool calls."""
    if comp.content:
        if rich_stdout():
            out_console().print(markdown(comp.content))
        else:
            print(comp.content, flush=True)
    print_calls(comp)


def print_calls(comp: Completion) -> None:
    """A reply's tool calls: on a terminal each in a panel of indented JSON
    (marked not executed: oruel does not run tools); piped, one JSON object a
    line for a script to read."""
    for call in comp.tool_calls:
        fn = call["function"]
        args = json.loads(fn["arguments"])
        if rich_stdout():
            from rich.panel import Panel
            from rich.syntax import Syntax

            body = Syntax(json.dumps(args, ensure_ascii=False, indent=2), "json")
            title = f"tool call: {fn['name']}"
            panel = Panel(body, title=title, subtitle="not executed", title_align="left")
            panel.expand = False
            out_console().print(panel)
        else:
            print(
                json.dumps({"name": fn["name"], "arguments": args}, ensure_ascii=False), flush=True
            )


def print_logprobs(comp: Completion) -> None:
    """--logprobs: the reply shaded by probability with the table of the least
    certain tokens (a terminal), or the reply then the table as text; then any
    tool calls as JSON."""
    from ..logprob_view import show

    show(comp.logprobs, out_console() if rich_stdout() else None, comp.content)
    print_calls(comp)


def print_stats(comp: Completion) -> None:
    """ask's dim line after a reply: chat's stats line without the context part (ask
    sizes its context to the one request, so its use says nothing), on one line
    whatever the width (a script reads it as one)."""
    from rich.text import Text

    err_console().print(Text(stats_line(comp, None), style="dim"), soft_wrap=True)


def stats_line(comp: Completion, ctx: int | None, width: int | None = None) -> str:
    """The stats line after a reply (ask and chat): tokens, decode speed, time to first
    token, prompt tokens new and cached, context used (unless `ctx` is None: a remote server's is not
    known), finish reason; in fewer words when the full line would not fit
    `width` (a terminal's: a wrapped stats line reads badly)."""
    new, cached = comp.prompt_tokens - comp.cached_tokens, comp.cached_tokens
    used = (comp.prompt_tokens + comp.completion_tokens) / (ctx or 1)
    first = comp.first_token_seconds
    head = f"{comp.completion_tokens} tokens · {comp.tokens_per_second:.1f} tok/s"
    ttft = ("first token {:.2f} s", "first {:.2f} s")
    forms = [  # widest first
        (
            ttft[0],
            f"prompt {new} new + {cached} cached",
            f"context {used:.0%} of {ctx}",
            "finish: ",
        ),
        (ttft[1], f"prompt {new} new + {cached} cached", f"ctx {used:.0%} of {ctx}", ""),
        (ttft[1], f"{new} new + {cached} cached", f"ctx {used:.0%}", ""),
    ]
    line = ""
    for first_fmt, prompt, context, finish in forms:
        if first is not None:
            when = first_fmt.format(first)
        else:  # tokens without a first one's time: a remote reply that came whole
            when = "sent whole" if comp.completion_tokens else "no token"
        parts = [head, when, prompt, context] if ctx else [head, when, prompt]
        line = " · ".join([*parts, finish + comp.finish_shown])
        if width is None or len(line) <= width:
            break
    return line
