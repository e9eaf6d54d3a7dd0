"""The backend interface, at the level of messages and parameters, not tokens.

chat, ask, run, serve and bench ask a backend to start a chat request and get
a handle: iterate it for the reply's text as it comes, cancel it from any
thread, and take the finished `Completion`. The local backend renders the
chat template, tokenizes and submits to the engine's driver; a remote one can
send the same request to an OpenAI-compatible server behind this interface.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from ..engine.reply import Completion
from ..params.model import GenerationParams


class Thought(str):
    """A piece of the model's thinking in a handle's stream (the answer's pieces
    are plain str): shown dim, folded, or not at all, never taken for the answer."""


class ChatHandle(Protocol):
    """One request in flight."""

    id: str

    def __iter__(self) -> Iterator[str]:
        """The reply's text deltas (stop strings held back), until it finishes;
        thinking, where the model marks it, comes as `Thought` pieces."""
        ...

    def cancel(self) -> None:
        """Stop between two tokens; `result()` then has finish_reason cancelled."""
        ...

    def result(self) -> Completion:
        """Wait for the end; the whole reply (tool calls parsed, structure checked)."""
        ...


class Backend(Protocol):
    model_name: str
    remote: bool  # a server renders the template and holds the tokenizer

    def start(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        system: str | None = None,
        *,
        request_id: str | None = None,
    ) -> ChatHandle:
        """Start a chat request: messages, effective parameters (tools included),
        the system prompt when the messages hold none."""
        ...

    def close(self) -> None: ...
