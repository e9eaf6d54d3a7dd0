"""What goes into the engine and what comes out: a Request, then its Deltas
(text as it may be shown) and exactly one Finish."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..params.model import GenerationParams
from .logprobs import Entry
from .sampling import Grammar

if TYPE_CHECKING:
    from ..formats.calls.stream import Reading


@dataclass
class Request:
    """A prompt, already tokenized, and how to generate from it."""

    id: str
    tokens: list[int]
    params: GenerationParams
    grammar: Grammar | None = None
    priority: int = 1  # lower is admitted first: turbo 0, standard 1
    ignore_eog: bool = False  # generate past end-of-generation (`oruel bench` measures speed)
    user: object = None  # the caller's own data, handed back in events
    reading: Reading | None = None  # the model's tool-call format and thinking markers


@dataclass
class Delta:
    request: Request
    text: str
    logprobs: list[Entry] | None = None  # the tokens this text releases, when asked
    reasoning: str = ""  # thinking, split from the answer where the model marks it


@dataclass
class Finish:
    request: Request
    text: str  # the whole output (stop string excluded)
    tokens: list[int]  # the generated token ids
    finish_reason: str  # stop | length | cancelled | error
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int  # prompt tokens reused from the KV cache
    seconds: float  # admission to finish
    first_token_seconds: float | None  # admission to the first token (prompt processing)
    error: str | None = None  # why, when finish_reason is "error"
    admitted_at: float = 0.0  # time.perf_counter() at admission
    logprobs: list[Entry] | None = None  # every token's entry, when the request asked
    context_full: int | None = None  # the context's size, when its end (not max_tokens) cut it
    reasoning: str | None = None  # the thinking (markers removed), where the model thought
    reasoning_tokens: int = 0  # tokens generated until the thinking closed


Event = Delta | Finish
