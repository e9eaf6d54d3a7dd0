"""Reading chat input: prompt_toolkit on a terminal (history in the user data
folder, Ctrl-R search, suggestions, Tab completion, Esc-Enter or Ctrl-J for a
new line, a bracketed paste as one message), plain lines when stdin is not a
terminal (a piped script: one message a line), and a message of several lines
between two triple-quote lines in either."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import commands

BLOCK = '"""'


def read_message(read: Callable[[bool], str]) -> str:
    """One message from `read(first_line)`: a line, or a block between two
    `\"\"\"` lines (text may share a line with either; Ctrl-D or the end of
    input inside a block ends it). EOFError and KeyboardInterrupt on the
    first line propagate."""
    text = read(True)
    head = text.strip()
    if not head.startswith(BLOCK):
        return text
    body = head[len(BLOCK) :]
    if body.endswith(BLOCK):  # """one line"""
        return body[: -len(BLOCK)]
    lines = [body] if body else []
    while True:
        try:
            line = read(False)
        except EOFError:
            break
        if line.rstrip().endswith(BLOCK):
            last = line.rstrip()[: -len(BLOCK)]
            if last:
                lines.append(last)
            break
        lines.append(line)
    return "\n".join(lines)


class LineReader:
    """stdin that is not a terminal: each line one message."""

    interactive = False

    def __init__(self) -> None:
        self.count = 0  # lines read so far
        self.started = 0  # the line the message being read started on

    def read(self, first: bool) -> str:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        self.count += 1
        if first:
            self.started = self.count
        return line.rstrip("\r\n")


class TerminalReader:
    """prompt_toolkit: line editing, history, search, suggestions, completion."""

    interactive = True

    def __init__(self, history: Path | None, warn: Callable[[str], None]) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
        from prompt_toolkit.history import FileHistory, History, InMemoryHistory
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.styles import Style

        keys = KeyBindings()

        @keys.add("escape", "enter")
        @keys.add("c-j")
        def _newline(event: Any) -> None:
            event.current_buffer.insert_text("\n")

        hist: History = InMemoryHistory()
        if history is not None:
            try:
                history.parent.mkdir(parents=True, exist_ok=True)
                history.touch(exist_ok=True)
                hist = FileHistory(str(history))
            except OSError as e:
                warn(f"the chat history cannot be kept in {history}: {e.strerror}")
        output = None
        if not sys.stdout.isatty():  # replies piped: the prompt goes to the terminal on stderr
            from prompt_toolkit.output import create_output

            output = create_output(stdout=sys.stderr)
        self.session: Any = PromptSession(
            history=hist,
            auto_suggest=AutoSuggestFromHistory(),
            completer=_completer(),
            complete_while_typing=False,
            key_bindings=keys,
            multiline=False,
            prompt_continuation=lambda width, line, wrap: [("class:cont", "… ".rjust(width))],
            style=Style.from_dict({"prompt": "bold ansicyan", "cont": "ansibrightblack"}),
            output=output,
        )

    def read(self, first: bool) -> str:
        message = [("class:prompt", "› ")] if first else [("class:cont", "… ")]
        return self.session.prompt(message)


def _completer() -> Any:
    """Tab completion (a class made here: prompt_toolkit loads only on a terminal)."""
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document

    paths = PathCompleter(expanduser=True)

    class ChatCompleter(Completer):
        def get_completions(self, document: Document, complete_event: Any) -> Iterator[Completion]:
            found = commands.completions(document.text_before_cursor)
            if found is None:
                return
            words, typed = found
            if words == ["<file>"]:
                yield from paths.get_completions(Document(typed, len(typed)), complete_event)
                return
            for word in words:
                yield Completion(word, start_position=-len(typed))

    return ChatCompleter()
