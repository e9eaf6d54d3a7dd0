"""The engine's bookkeeping per sequence: a slot and what it put in a step's batch."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..formats.calls.reasoning import ThinkingSplitter
from .events import Request
from .logprobs import Tracker
from .text import Detokenizer, StopMatcher

# What llama_decode's return codes mean (llama.h).
_DECODE_CODES = {
    1: ": no room in the KV cache for this batch",
    2: ": aborted",
    -1: ": invalid batch",
}


@dataclass
class _Run:
    """The tokens one slot put into this step's batch, to undo or redo them."""

    slot: _Slot
    start: int  # the slot's KV length before this batch
    tokens: list[int]
    sample_at: int | None  # batch index of the logits to sample, if any


@dataclass
class _Slot:
    seq: int
    cached: list[int] = field(default_factory=list)  # tokens whose KV this sequence holds
    req: Request | None = None
    pending: list[int] = field(default_factory=list)  # prompt tokens still to decode
    next_token: int | None = None  # sampled, not yet decoded
    last_token: int | None = None  # the last token sampled (tests, the --demo)
    chain: object = None
    detok: Detokenizer | None = None
    stops: StopMatcher | None = None
    lp: Tracker | None = None  # set when the request asks for logprobs
    thinks: ThinkingSplitter | None = None  # set when the model marks its thinking
    thought: list[str] = field(default_factory=list)
    n_think: int = 0
    think_counted: bool = False  # the closing marker's token was counted
    text: list[str] = field(default_factory=list)
    generated: list[int] = field(default_factory=list)
    n_gen: int = 0
    n_reused: int = 0
    t_start: float = 0.0
    t_first: float | None = None
    last_used: int = -1  # when its last request finished (the engine's count of finishes)
