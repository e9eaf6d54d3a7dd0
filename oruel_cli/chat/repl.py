"""The chat loop: read a message or a command, run a turn on the backend,
show the reply and its stats line.

Input comes from prompt_toolkit on a terminal (history in the user data
folder, Ctrl-R search, suggestions, Tab completion, Esc-Enter or Ctrl-J for a
new line, a bracketed paste as one message) and from plain line reading when
stdin is not a terminal (a piped script: one message a line). Replies go to
stdout; everything else to stderr.

Signals: Ctrl-C during a reply cancels it between two decodes (the handler
only posts to the driver's inbox); the partial reply stays in the history,
marked cut. At the prompt prompt_toolkit reads Ctrl-C as a key (the line is
cleared). SIGTERM ends the chat with exit 130, after a reply in progress has
stopped; so does a Ctrl-C when stdin is piped (there is no prompt to go back to).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backends.base import Thought
from ..common.command import (
    Stop,
    ctx_in_effect,
    note_thinking,
    print_reply,
    print_thinking,
    show_params,
    stats_line,
    stream_in_effect,
)
from ..engine.loader import CHAT_CTX_CAP
from ..errors import ContextTooLong, Interrupted, OruelError, RuntimeFailure, UsageError
from ..render import (
    MarkdownStream,
    err_console,
    out_console,
    quiet_terminal,
    rich_stdout,
    warn,
)
from ..signals import catching, forget_stop, raise_interrupt
from . import commands
from .input import LineReader, TerminalReader, read_message
from .state import ChatSession, reply_room

if TYPE_CHECKING:  # the engine loads llama.cpp: imported when a chat runs, not for its tests
    from ..backends.local import LocalBackend, LocalHandle
    from ..backends.remote import RemoteBackend, RemoteHandle
    from ..engine.engine import Request
    from ..engine.reply import Completion
    from ..logs.writer import ReplyLog


CUT_NOTE = "cut: the partial reply stays in the history (/retry redoes it, /undo drops it)"


def shown_model(name: str) -> str:
    """The banner's model: a GGUF path (llama-server's model id) by its file name, so the
    banner keeps to one line; any other name (a hub id such as org/model) as it is."""
    return Path(name).name if name.lower().endswith(".gguf") else name


# -- the loop ----------------------------------------------------------------------------


class Chat:
    """One interactive (or piped) chat over a loaded local backend, or a remote
    one (`--endpoint`: the server has the tokenizer, so the history is trimmed
    when the server says it does not fit, one exchange at a time)."""

    def __init__(
        self,
        session: ChatSession,
        backend: LocalBackend | RemoteBackend,
        target: Any,  # loader.Target: shown by /params
        reader: LineReader | TerminalReader,
        log: ReplyLog | None = None,
        conversation_name: str | None = None,
        show_thinking: bool = False,
    ) -> None:
        self.session = session
        self.log = log  # every reply is logged (it writes nothing when logging is off)
        self.conversation_name = conversation_name
        self.backend = backend
        self.target = target
        self.reader = reader
        self.interactive = reader.interactive
        self.terminated = False  # SIGTERM came: leave with 130 once the reply has stopped
        self.refused: list[tuple[int, str]] = []  # a piped script's refused lines: (number, text)
        self.err = err_console()
        self.show_thinking = show_thinking  # /think show|hide changes it

    @property
    def model_name(self) -> str:
        return self.backend.model_name

    @property
    def remote(self) -> bool:
        return self.backend.remote

    @property
    def ctx(self) -> int | None:
        """Tokens per sequence; None on a remote server (not known here)."""
        return None if self.remote else self.backend.ctx_slot  # type: ignore[union-attr]

    # -- output (stderr: everything but replies) -----------------------------------

    def say(self, text: str) -> None:
        self.err.print(text, markup=False, highlight=False, soft_wrap=True)

    def dim(self, text: str) -> None:
        self.err.print(text, style="dim", markup=False, highlight=False, soft_wrap=True)

    def warn(self, text: str) -> None:
        warn(text, self.err)

    def notice(self, text: str) -> None:
        self.err.print(text, style="yellow", markup=False, highlight=False, soft_wrap=True)

    def error(self, text: str) -> None:
        self.err.print(f"[red]error:[/] {_escape(text)}", highlight=False, soft_wrap=True)

    def show_params(self) -> None:
        p = self.session.params.params
        streams = not p.tools_active and not p.logprobs and (sys.stdout.isatty() or bool(p.stream))
        in_effect = stream_in_effect(p.stream, streams, "tools")
        if self.ctx is not None:
            in_effect |= ctx_in_effect(self.target, CHAT_CTX_CAP, known=self.ctx)
        show_params(self.session.params.resolved.effective, self.target, in_effect)
        self.say(self.session.params.system_line())

    def banner(self) -> None:
        preset = self.session.params.preset_name
        where = f"context {self.ctx} tokens" if self.ctx else f"at {self.backend.path}"
        head = f"oruel chat · {shown_model(self.model_name)} · {where}"
        self.err.print(
            f"[bold]{_escape(head)}[/]" + (f" · preset {_escape(preset)}" if preset else ""),
            highlight=False,
        )
        self.carry_line()
        self.dim("/help: commands · Esc-Enter: new line · Ctrl-C: stop a reply · Ctrl-D: quit")
        self.say("")

    def carry_line(self) -> None:
        """'carrying on conversation ID (name): N exchanges', when one is (-c, --cid):
        in the banner, and alone on stderr when the chat is a piped script."""
        if not self.session.messages:
            return
        which = ""
        if self.log is not None:
            which = f" conversation {self.log.conversation_id}"
            if self.conversation_name:
                which += f" ({self.conversation_name})"
        self.dim(f"carrying on{which}: {self.session.summary()}")

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        """Until /exit, Ctrl-D or the end of input; SIGTERM raises Interrupted (130).
        A piped script goes on past a line it refuses, then exits 2 naming them all."""
        with catching(self._on_sigterm, (signal.SIGTERM,)):
            if self.interactive:
                self.banner()
            else:
                self.carry_line()
            self._loop()
        if self.refused:
            n = len(self.refused)
            lines = ", ".join(f"line {no} ({text})" for no, text in self.refused)
            raise UsageError(f"{n} line{'s' * (n > 1)} of the script refused: {lines}")

    def _on_sigterm(self, signum: int, frame: object) -> None:
        self.terminated = True
        raise_interrupt(signum, frame)  # out of the prompt; the loop sees `terminated`

    def _loop(self) -> None:
        while True:
            try:
                text = read_message(self.reader.read)
            except KeyboardInterrupt:
                if self.terminated or not self.interactive:
                    raise Interrupted() from None
                forget_stop()
                continue  # Ctrl-C at the prompt: the line is gone, a fresh prompt
            except EOFError:
                return
            if not text.strip():
                continue
            try:
                with quiet_terminal():  # until the next prompt: keys typed ahead are kept
                    self.handle(text)
            except commands.EndChat:
                return
            except Interrupted:
                raise
            except UsageError as e:
                self._refuse(text, e)
            except OruelError as e:
                self.error(str(e))
            except KeyboardInterrupt:  # between two replies, outside the prompt
                if self.terminated or not self.interactive:
                    raise Interrupted() from None
                forget_stop()
                self.dim("interrupted")
            if self.terminated:
                raise Interrupted()

    def _refuse(self, text: str, e: UsageError) -> None:
        """A line the chat refused: said at once; a script's is also kept for its exit."""
        line_no = getattr(self.reader, "started", None)
        if self.interactive or line_no is None:
            self.error(str(e))
            return
        self.error(f"line {line_no}: {e}")
        first = text.strip().splitlines()[0]
        self.refused.append((line_no, first if len(first) <= 40 else first[:39] + "…"))

    def handle(self, text: str) -> None:
        """A command, or a message to send."""
        parsed = commands.parse(text)
        if parsed is None:
            self.turn(commands.as_message(text))
            return
        name, arg = parsed
        commands.find(name).run(self, arg)

    def retry(self) -> None:
        self.turn(None)

    def new_conversation(self) -> None:
        """/reset and /load: later replies are logged as another conversation."""
        if self.log is not None:
            self.log.new_conversation()
        self.conversation_name = None

    # -- a turn --------------------------------------------------------------------------

    def turn(self, text: str | None) -> None:
        """Send a message (None: the last one again, for /retry) and show the
        reply. Whatever stops it before a reply exists (a message that does
        not fit, a failed generation, an interrupt) leaves the conversation
        as it was."""
        s = self.session
        old = s.take_reply() if text is None else None
        if text is not None:
            s.add_user(text)
        done = False
        with self._reply_signals() as stop, quiet_terminal():
            try:
                req = self._prepare()
                if stop.requested:  # Ctrl-C before anything was generated
                    self.dim("interrupted: nothing sent")
                    return
                handle = self._submit(req, stop)
                if handle is None:  # a remote request: Ctrl-C before an endpoint answered
                    self.dim("interrupted: nothing sent")
                    return
                sent = s.window()  # what the request holds (after any trimming), for the log
                comp = self._show(handle)
                if comp.error is not None:
                    self.error(f"the generation failed: {comp.error}")
                    return
                cut = comp.finish_reason == "cancelled"
                s.add_reply(comp.content, comp.tool_calls, cut)
                done = True
                if self.log is not None:  # after the reply: the log never costs one
                    self.log.add(sent, s.params.resolved, self.target.path, comp)
                width = self.err.width if self.err.is_terminal else None
                self.dim(stats_line(comp, self.ctx, width))
                if cut:
                    self.dim(CUT_NOTE)
                if self.interactive:
                    self.say("")
            finally:
                if not done:
                    if old is None:
                        s.pop_user()
                    else:
                        s.put_back(old)
        if stop.requested and (self.terminated or not self.interactive):
            raise Interrupted()

    @contextmanager
    def _reply_signals(self) -> Iterator[Stop]:
        """During a turn, Ctrl-C and SIGTERM cancel the request instead of raising."""
        stop = Stop()

        def handler(signum: int, frame: object) -> None:
            if signum == signal.SIGTERM:
                self.terminated = True
            stop.fire()

        with catching(handler):
            yield stop

    def _prepare(self) -> Request | None:
        """The request for the conversation's window, after dropping the oldest
        exchanges if it outgrows the context less the room kept for the reply;
        a message that alone does not fit raises RuntimeFailure. None for a
        remote backend: `_submit` sends the window as it is."""
        if self.remote:
            return None
        p = self.session.params
        params, system = p.params, p.resolved.system
        ctx = self.backend.ctx_slot
        room = reply_room(ctx, params.max_tokens)
        made: dict[int, Request] = {}
        failure: list[ContextTooLong] = []

        def count(messages: list[dict[str, Any]]) -> int | None:
            try:
                req = self.backend.prepare(messages, params, system)
            except ContextTooLong as e:
                failure[:] = [e]
                return None
            made[len(messages)] = req
            return len(req.tokens)

        try:
            dropped = self.session.trim(count, ctx - room)
        except RuntimeFailure as e:  # not a size that dropping history mends (a template's)
            raise RuntimeFailure(f"message not sent: {e}") from None
        window = self.session.window()
        req = made.get(len(window))
        if req is None:
            raise RuntimeFailure(
                f"message not sent: {failure[0]}" if failure else "message not sent"
            )
        if dropped:
            plural = "s" if dropped != 1 else ""
            self.notice(
                f"dropped the {dropped} oldest exchange{plural} to fit the context "
                f"({ctx} tokens, {room} kept for the reply)"
            )
        if len(req.tokens) > ctx - room:
            self.notice(f"this message leaves {ctx - len(req.tokens)} tokens for the reply")
        return req

    def _submit(self, req: Request | None, stop: Stop) -> LocalHandle | RemoteHandle | None:
        """Start the request (local: the prepared one). A remote server that
        answers that the conversation does not fit its context gets it again
        without the oldest exchange, until only the newest is left; None when
        a Ctrl-C came before an endpoint answered."""
        if req is not None:
            from ..backends.local import LocalHandle

            local = LocalHandle(self.backend.submit(req), self.model_name)  # type: ignore[union-attr]
            stop.attach(local.cancel)
            return local
        from ..backends.remote_errors import RemoteFailure

        s, p = self.session, self.session.params
        dropped = 0
        while True:
            handle = self.backend.start(s.window(), p.params, p.resolved.system)
            stop.attach(handle.cancel)
            try:
                handle.wait_open()  # type: ignore[union-attr]
            except RemoteFailure as e:
                starts = [
                    i for i in range(s.start, len(s.messages)) if s.messages[i]["role"] == "user"
                ]
                if len(starts) < 2 or not any(err.context_too_long for err in e.errors):
                    raise
                s.start = starts[1]
                dropped += 1
                continue
            break
        if dropped:
            plural = "s" if dropped != 1 else ""
            self.notice(
                f"dropped the {dropped} oldest exchange{plural}: the server said the "
                "conversation does not fit its context"
            )
        return None if stop.requested else handle  # type: ignore[return-value]

    def _show(self, handle: LocalHandle | RemoteHandle) -> Completion:
        """Stream the reply (Markdown in a terminal), or show it whole when tool
        calls are possible (their raw text is not for reading) or when piped
        without `stream`."""
        from ..engine.reply import json_warning

        params = self.session.params.params
        if w := json_warning(self.session.window(), params, self.session.params.resolved.system):
            self.warn(w)
        tools = params.tools_active
        picture = params.logprobs  # /logprobs N: drawn once the reply is whole
        stream = not tools and not picture and (sys.stdout.isatty() or params.stream)
        live = MarkdownStream() if stream else None
        status = self.err.status("generating…") if not stream and self.err.is_terminal else None
        if status is not None:
            status.start()
        show_thinking = self.show_thinking
        try:
            for text in handle:
                if live is not None and isinstance(text, Thought):
                    live.think(text, show_thinking)
                elif live is not None:
                    live.add(text)
        finally:
            if live is not None:
                live.close()
            if status is not None:
                status.stop()
        comp = handle.result()
        if comp.reasoning_content and not show_thinking:
            note_thinking(comp, "/think show")
        elif comp.reasoning_content and not stream:
            print_thinking(comp)
        if picture:
            from ..logprob_view import show

            show(comp.logprobs, out_console() if rich_stdout() else None, comp.content)
            print_reply(replace(comp, content=None))
        elif not stream:
            print_reply(comp)
        for w in comp.warnings:
            self.warn(w)
        return comp


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
