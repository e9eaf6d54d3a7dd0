"""The engine: one model, one llama.cpp context, N sequence slots, one batch a step.

Each step decodes a single `llama_batch` holding one token for every live
sequence and the next chunk of newly admitted prompts (continuous batching: a
finished sequence's slot is refilled from the queue at once). Each sequence
has its own native sampler chain. A new prompt reuses the longest prefix its
slot already holds in the KV cache (the previous request's system prompt, say),
so a system prompt shared by a batch is decoded once per slot, not once per
request; a queued request goes to the free slot holding the longest common
prefix of its tokens (a chat's next turn finds its own history). A failed
`llama_decode` ends only the requests it hit (reason `error`), after their KV
cells are removed; the others go on (see `_recover`). With `unified_kv` (one KV pool for all slots) it can also copy a
prefix from another slot (`llama_memory_seq_cp`); that is off by default
because attention then spans every slot's cells: measured here, 8 sequences
decode about 7% slower (287 against 307 tokens/s), more than the prefix saves.

A reply must not depend on how much of its prompt was cached. On some CPUs
llama.cpp's matrix kernels round differently for one token than for many, so
the last prompt token (the one whose logits pick the first reply token) is
always decoded in a step after the rest of the prompt, as it is when all the
rest was cached; `next_token_logits` reads prompts the same way.
"""

from __future__ import annotations

import heapq
import itertools
import time

from ..errors import ContextTooLong, RuntimeFailure
from ..formats.calls.reasoning import ThinkingSplitter
from .bindings import lc
from .events import Delta, Event, Finish, Request
from .llama import LoadedModel
from .logprobs import Row, Tracker, entry, row_from_pointer
from .sampling import build_chain
from .slots import _DECODE_CODES, _Run, _Slot
from .text import Detokenizer, StopMatcher

__all__ = ["Delta", "Engine", "Event", "Finish", "Request", "check_prompt_fits"]


class Engine:
    """Submit requests and call `step` until idle. Only the driver (driver.py)
    steps an engine; everything else goes through it."""

    def __init__(
        self,
        model: LoadedModel,
        n_slots: int = 1,
        ctx_per_slot: int | None = None,
        threads: int = 1,
        n_batch: int = 512,
        unified_kv: bool = False,
    ) -> None:
        self.model = model
        self.n_slots = n_slots
        self.ctx_slot = ctx_per_slot or model.n_ctx_train
        cp = lc.llama_context_default_params()
        cp.n_ctx = self.ctx_slot * n_slots
        cp.n_batch = max(n_batch, n_slots)
        cp.n_ubatch = max(n_batch, n_slots)
        cp.n_seq_max = n_slots
        cp.n_threads = threads
        cp.n_threads_batch = threads
        # One KV pool lets a slot copy another slot's partial prefix (seq_cp); with
        # separate pools a slot can only reuse what it held itself.
        cp.kv_unified = unified_kv
        self.unified_kv = unified_kv
        cp.flash_attn_type = {  # RuntimeSettings.flash_attn says when and why
            "auto": lc.LLAMA_FLASH_ATTN_TYPE_AUTO,
            "on": lc.LLAMA_FLASH_ATTN_TYPE_ENABLED,
            "off": lc.LLAMA_FLASH_ATTN_TYPE_DISABLED,
        }[model.runtime.flash_attn]
        cp.no_perf = True
        self.ctx = lc.llama_init_from_model(model.ptr, cp)
        if not self.ctx:
            raise RuntimeFailure(
                f"llama.cpp could not create a context of {cp.n_ctx} tokens for {model.path}"
            )
        self.n_batch = cp.n_batch
        self.mem = lc.llama_get_memory(self.ctx)
        self.batch = lc.llama_batch_init(self.n_batch, 0, 1)
        self.slots = [_Slot(seq=i) for i in range(n_slots)]
        self._queue: list[tuple[int, int, Request]] = []
        self._order = itertools.count()
        self._cancelled: set[str] = set()
        self._finished = 0  # requests finished so far: the slots' use clock

    # -- the public interface -------------------------------------------------

    def check(self, req: Request) -> None:
        """A request must have a prompt that fits the context with room for one token."""
        if not req.tokens:
            raise RuntimeFailure("the prompt is empty after tokenization")
        check_prompt_fits(len(req.tokens), self.ctx_slot)

    def submit(self, req: Request) -> None:
        """Queue a request (`check` it first)."""
        self.check(req)
        heapq.heappush(self._queue, (req.priority, next(self._order), req))

    def cancel(self, request_id: str) -> None:
        """Stop a request at the next step: it finishes 'cancelled', with what it
        generated so far (nothing, if it was still queued)."""
        self._cancelled.add(request_id)

    @property
    def busy(self) -> bool:
        return bool(self._queue) or any(s.req is not None for s in self.slots)

    @property
    def live(self) -> int:
        return sum(s.req is not None for s in self.slots)

    @property
    def queued(self) -> int:
        return len(self._queue)

    def next_token_logits(self, tokens: list[int], reuse: bool = True) -> list[float]:
        """The model's raw logits for the token after `tokens` (the --demo, tests).

        Runs on slot 0 while the engine is idle (a driver call), reusing what
        that slot holds unless `reuse` is False (bench times a fresh prompt).
        """
        if self.live:  # queued requests may wait: they are admitted later
            raise RuntimeError("next_token_logits needs an engine with no request running")
        slot = self.slots[0]
        held = _common_prefix(slot.cached, tokens) if reuse else 0
        reuse_n = min(held, len(tokens) - 1)
        lc.llama_memory_seq_rm(self.mem, slot.seq, reuse_n, -1)
        slot.cached = tokens[:reuse_n]
        todo = tokens[reuse_n:-1]
        while todo:  # as the step loop reads a prompt: all but the last token in chunks
            chunk, todo = todo[: self.n_batch], todo[self.n_batch :]
            self._decode_alone(slot, chunk, logits=False)
        self._decode_alone(slot, tokens[-1:], logits=True)  # then the last one alone
        ptr = lc.llama_get_logits_ith(self.ctx, -1)
        return ptr[: self.model.n_vocab]

    def _decode_alone(self, slot: _Slot, chunk: list[int], logits: bool) -> None:
        for i, token in enumerate(chunk):
            self._put(i, slot, token, logits and i == len(chunk) - 1)
        self.batch.n_tokens = len(chunk)
        if lc.llama_decode(self.ctx, self.batch) != 0:
            raise RuntimeFailure("llama_decode failed while reading the prompt")

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for s in self.slots:
            self._free_chain(s)
        if self.ctx:
            lc.llama_batch_free(self.batch)
            lc.llama_free(self.ctx)
            self.ctx = None

    # -- the step loop --------------------------------------------------------

    def step(self, admit: bool = True) -> list[Event]:
        """Admit (unless told not to), decode one batch, sample: this step's events."""
        events: list[Event] = []
        self._drop_cancelled(events)
        if admit:
            self._admit()
        runs = self._fill_batch()
        if self.batch.n_tokens == 0:
            return events
        rc = self._decode()
        if rc != 0:
            self._recover(runs, rc, events)
            return events
        for run in runs:
            if run.sample_at is not None:
                self._sample(run.slot, run.sample_at, events)
        return events

    def _sample(self, slot: _Slot, idx: int, events: list[Event]) -> None:
        """Draw the slot's next token from batch row `idx`; read its raw
        distribution first when the request asks for logprobs."""
        row = None
        if slot.lp is not None:
            params = slot.req.params  # type: ignore[union-attr]
            ptr = lc.llama_get_logits_ith(self.ctx, idx)
            row = row_from_pointer(ptr, self.model.n_vocab, params.top_logprobs or 0)
        token = lc.llama_sampler_sample(slot.chain, self.ctx, idx)
        self._on_token(slot, token, events, row)

    def _decode(self) -> int:
        return lc.llama_decode(self.ctx, self.batch)

    def _recover(self, runs: list[_Run], rc: int, events: list[Event]) -> None:
        """A failed decode: drop the cells this batch wrote (llama.cpp may have
        kept some ubatches), then decode each hit slot's tokens alone, so only
        the request that cannot be decoded fails, with reason "error"."""
        for run in runs:
            self._rewind(run)
        for run in runs:
            if len(runs) > 1:
                for i, token in enumerate(run.tokens):
                    self._put(
                        i, run.slot, token, run.sample_at is not None and i == len(run.tokens) - 1
                    )
                self.batch.n_tokens = len(run.tokens)
                rc = self._decode()
                if rc == 0:
                    if run.sample_at is not None:
                        self._sample(run.slot, len(run.tokens) - 1, events)
                    continue
                self._rewind(run)
            why = f"llama_decode failed (code {rc}{_DECODE_CODES.get(rc, '')})"
            self._finish(run.slot, "error", events, error=why)

    def _rewind(self, run: _Run) -> None:
        lc.llama_memory_seq_rm(self.mem, run.slot.seq, run.start, -1)
        del run.slot.cached[run.start :]

    def _put(self, n: int, slot: _Slot, token: int, logits: bool) -> None:
        """Write batch entry n: `token` at the slot's next position."""
        b = self.batch
        b.token[n] = token
        b.pos[n] = len(slot.cached)
        b.n_seq_id[n] = 1
        b.seq_id[n][0] = slot.seq
        b.logits[n] = logits
        slot.cached.append(token)

    def _fill_batch(self) -> list[_Run]:
        """One token per decoding slot, then prompt chunks in the room left."""
        n = 0
        runs: list[_Run] = []
        for slot in self.slots:
            if slot.req is not None and slot.next_token is not None:
                runs.append(_Run(slot, len(slot.cached), [slot.next_token], n))
                self._put(n, slot, slot.next_token, True)
                slot.next_token = None
                n += 1
        for slot in self.slots:
            if slot.req is None or not slot.pending or n >= self.n_batch:
                continue
            # The last prompt token goes in a step of its own, after the rest
            # (the module docstring says why); its logits pick the first token.
            last = len(slot.pending) == 1
            take = 1 if last else min(len(slot.pending) - 1, self.n_batch - n)
            chunk, slot.pending = slot.pending[:take], slot.pending[take:]
            runs.append(_Run(slot, len(slot.cached), chunk, n if last else None))
            for token in chunk:
                self._put(n, slot, token, last)
                n += 1
        self.batch.n_tokens = n
        return runs

    def _admit(self) -> None:
        """Each queued request, in priority order, to the free slot that holds
        the longest common prefix of its tokens, so a conversation's next turn
        finds its history; among equals, the least recently used slot."""
        while self._queue:
            free = [s for s in self.slots if s.req is None]
            if not free:
                return
            _, _, req = heapq.heappop(self._queue)
            best = max(free, key=lambda s: (_common_prefix(s.cached, req.tokens), -s.last_used))
            self._start(best, req)

    def _start(self, slot: _Slot, req: Request) -> None:
        donor, reuse = slot, _common_prefix(slot.cached, req.tokens)
        for other in self.slots if self.unified_kv else ():
            n = _common_prefix(other.cached, req.tokens)
            if n > reuse:
                donor, reuse = other, n
        reuse = min(reuse, len(req.tokens) - 1)  # decode at least one token for logits
        if donor is slot:
            lc.llama_memory_seq_rm(self.mem, slot.seq, reuse, -1)
        else:
            lc.llama_memory_seq_rm(self.mem, slot.seq, -1, -1)
            lc.llama_memory_seq_cp(self.mem, donor.seq, slot.seq, 0, reuse)
        slot.cached = req.tokens[:reuse]
        slot.pending = req.tokens[reuse:]
        slot.req = req
        slot.next_token = None
        slot.chain = build_chain(
            req.params, self.model.vocab, self.model.n_vocab, self.ctx_slot, req.grammar
        )
        slot.detok = Detokenizer()
        slot.stops = StopMatcher(req.params.stops())
        slot.lp = Tracker() if req.params.logprobs else None
        reading = req.reading
        thinking = reading.thinking if reading is not None else None
        slot.thinks = ThinkingSplitter(thinking, reading.started) if thinking else None
        slot.thought = []
        slot.n_think = 0
        slot.think_counted = False
        slot.text = []
        slot.generated = []
        slot.n_gen = 0
        slot.n_reused = reuse
        slot.t_start = time.perf_counter()
        slot.t_first = None

    def _on_token(
        self, slot: _Slot, token: int, events: list[Event], row: Row | None = None
    ) -> None:
        req = slot.req
        assert req is not None and slot.detok is not None and slot.stops is not None
        slot.n_gen += 1
        slot.last_token = token
        slot.generated.append(token)
        if slot.t_first is None:
            slot.t_first = time.perf_counter()
        if self.model.is_eog(token) and not req.ignore_eog:
            self._finish(slot, "stop", events)
            return
        if slot.lp is not None and row is not None:
            slot.lp.add(entry(token, row, self.model.piece))
        self._read(slot, slot.detok.feed(self.model.piece(token)), events)
        t = slot.thinks
        if t is not None and (t.inside or t.closed) and not slot.think_counted:
            slot.n_think = slot.n_gen  # this token was thinking, or closed it
            slot.think_counted = t.closed
        if slot.stops.stopped is not None:
            self._finish(slot, "stop", events)
        elif req.params.max_tokens is not None and slot.n_gen >= req.params.max_tokens:
            self._finish(slot, "length", events)
        elif len(slot.cached) + 1 >= self.ctx_slot:
            self._finish(slot, "length", events, context_full=self.ctx_slot)
        else:
            slot.next_token = token

    def _finish(
        self,
        slot: _Slot,
        reason: str,
        events: list[Event],
        error: str | None = None,
        context_full: int | None = None,
    ) -> None:
        req = slot.req
        assert req is not None and slot.detok is not None and slot.stops is not None
        if slot.stops.stopped is None and error is None:
            self._read(slot, slot.detok.flush(), events, last=True)
        now = time.perf_counter()
        events.append(
            Finish(
                request=req,
                text="".join(slot.text),
                tokens=list(slot.generated),
                finish_reason=reason,
                prompt_tokens=len(req.tokens),
                completion_tokens=slot.n_gen,
                cached_tokens=slot.n_reused,
                seconds=now - slot.t_start,
                first_token_seconds=(slot.t_first - slot.t_start) if slot.t_first else None,
                error=error,
                admitted_at=slot.t_start,
                logprobs=slot.lp.released if slot.lp is not None else None,
                context_full=context_full,
                reasoning="".join(slot.thought).strip() if slot.thinks is not None else None,
                reasoning_tokens=slot.n_think,
            )
        )
        self._free_chain(slot)
        slot.lp = None
        self._finished += 1
        slot.last_used = self._finished
        slot.req = None
        slot.pending = []
        slot.next_token = None

    def _read(self, slot: _Slot, text: str, events: list[Event], last: bool = False) -> None:
        """New text of the reply: thinking (where the model marks it) is shown as
        it comes; the answer passes the stop strings first, so they apply to it alone."""
        assert slot.stops is not None
        thought, raw = "", ""
        if slot.thinks is not None:
            thought, text, raw = slot.thinks.feed(text)
            if last:
                more, tail, more_raw = slot.thinks.flush()
                thought, text, raw = thought + more, text + tail, raw + more_raw
        shown = slot.stops.feed(text) + (slot.stops.flush() if last else "")
        self._show(slot, shown, events, thought, raw)

    def _show(
        self, slot: _Slot, text: str, events: list[Event], thought: str = "", raw: str = ""
    ) -> None:
        """Text that is safe to show: one Delta, with the logprob entries it releases
        (`raw`: the thinking's text as the model wrote it, markers included)."""
        lps = slot.lp.show(raw + text) if slot.lp is not None else None
        if thought:
            slot.thought.append(thought)
        if text or lps or thought:
            slot.text.append(text)
            events.append(Delta(slot.req, text, lps, thought))  # type: ignore[arg-type]

    def _drop_cancelled(self, events: list[Event]) -> None:
        if not self._cancelled:
            return
        for slot in self.slots:
            if slot.req is not None and slot.req.id in self._cancelled:
                self._finish(slot, "cancelled", events)
        for _, _, req in self._queue:
            if req.id in self._cancelled:  # every submitted request ends in one Finish
                events.append(
                    Finish(
                        request=req, text="", tokens=[], finish_reason="cancelled",
                        prompt_tokens=len(req.tokens), completion_tokens=0, cached_tokens=0,
                        seconds=0.0, first_token_seconds=None,
                    )
                )  # fmt: skip
        self._queue = [q for q in self._queue if q[2].id not in self._cancelled]
        heapq.heapify(self._queue)
        self._cancelled.clear()

    def _free_chain(self, slot: _Slot) -> None:
        if slot.chain is not None:
            lc.llama_sampler_free(slot.chain)
            slot.chain = None


def check_prompt_fits(n_tokens: int, ctx: int) -> None:
    """A prompt needs room for at least one generated token in its sequence."""
    if n_tokens >= ctx:
        raise ContextTooLong(n_tokens, ctx)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
