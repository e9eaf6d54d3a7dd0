"""What ask (and later chat) share: run one request on the engine, render it
as it streams, and print the stats line."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..engine.completion import Completion, Prompter, complete, json_warning
from ..engine.engine import Delta, Engine, Finish, Request, check_prompt_fits
from ..errors import UsageError
from ..params.layering import Effective
from ..render import MarkdownStream, err_console, markdown, out_console, rich_stdout
from ..resolve import Resolved


def check_no_endpoint(opts: Any) -> None:
    if opts.endpoint:
        raise UsageError("--endpoint is not available in this version; run without it")


def show_params(effective: Effective, target: Any) -> None:
    """--show-params: each parameter with its source, then the runtime settings."""
    lines = effective.lines() + [f"model = {target.path}"] + target.runtime.lines()
    print("\n".join(lines), file=sys.stderr)


def warn(text: str) -> None:
    err_console().print(f"[yellow]warning:[/] {text}", highlight=False)


@dataclass
class Stop:
    requested: bool = False  # a signal came
    acted: bool = False  # the request was cancelled for it


@contextmanager
def stop_signals() -> Iterator[Stop]:
    """Ctrl-C and SIGTERM set a flag instead of raising wherever Python happens
    to be (a KeyboardInterrupt inside llama.cpp's log callback during a model
    load is swallowed by ctypes, with a traceback): the caller checks it after
    loading, and the step loop cancels the request between two decodes, keeping
    what was generated. A second Ctrl-C raises at once."""

    stop = Stop()

    def handler(signum: int, frame: object) -> None:
        if stop.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.requested = True

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@dataclass
class Prepared:
    engine: Engine
    request: Request
    has_tools: bool

    @classmethod
    def make(
        cls, model: Any, target: Any, messages: list[dict[str, Any]], resolved: Resolved
    ) -> Prepared:
        """Render and tokenize the request, then make a one-sequence engine sized for it."""
        from ..engine.loader import CHAT_CTX_CAP, context_size, make_engine

        params = resolved.params
        if w := json_warning(messages, params, resolved.system):
            warn(w)
        req = Prompter(model).request(messages, params, resolved.system)
        check_prompt_fits(len(req.tokens), context_size(model, target.runtime, CHAT_CTX_CAP))
        needed = len(req.tokens) + params.max_tokens + 2 if params.max_tokens else None
        ctx = context_size(model, target.runtime, CHAT_CTX_CAP, needed)
        has_tools = bool(params.tools) and params.tool_choice != "none"
        return cls(make_engine(model, target, 1, ctx), req, has_tools)

    def run(self, stream: bool, stop: Stop) -> Completion:
        """Generate; with stream, show deltas as they come (Markdown live in a terminal).
        When `stop` is requested (stop_signals), the request finishes 'cancelled'."""
        finish: Finish | None = None
        live = MarkdownStream() if stream else None
        try:
            self.engine.submit(self.request)
            while self.engine.busy:
                if stop.requested and not stop.acted:  # checked every step, not every event
                    self.engine.cancel(self.request.id)  # finishes 'cancelled' next step
                    stop.acted = True
                for ev in self.engine.step():
                    if isinstance(ev, Delta) and live:
                        live.add(ev.text)
                    elif isinstance(ev, Finish):
                        finish = ev
        finally:
            if live:
                live.close()
        assert finish is not None
        comp = complete(finish, self.engine.model.name)
        for w in comp.warnings:
            warn(w)
        return comp


def print_reply(comp: Completion) -> None:
    """A whole reply: its text (Markdown on a terminal), then any tool calls as JSON."""
    if comp.content:
        if rich_stdout():
            out_console().print(markdown(comp.content))
        else:
            print(comp.content)
    for call in comp.tool_calls:
        fn = call["function"]
        args = json.loads(fn["arguments"])
        print(json.dumps({"name": fn["name"], "arguments": args}, ensure_ascii=False))


def print_stats(comp: Completion) -> None:
    """The dim line after a reply: tokens, decode speed, prompt time, finish reason."""
    err_console().print(
        f"[dim]{comp.completion_tokens} tokens · {comp.tokens_per_second:.1f} tok/s · "
        f"prompt {comp.prompt_tokens} tokens in {comp.prompt_seconds:.2f} s · "
        f"finish: {comp.finish_reason}[/]",
        highlight=False,
    )
