"""The local backend: a GGUF model on this machine, through one engine driver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..engine import loader
from ..engine.completion import Completion, Prompter, complete
from ..engine.driver import Driver, Handle, Sink
from ..engine.engine import Delta, Request, check_prompt_fits
from ..engine.loader import CHAT_CTX_CAP, Target, context_size, make_engine
from ..errors import UsageError
from ..params.model import GenerationParams
from .base import Thought


class LocalHandle:
    """A driver handle seen as text deltas and a Completion."""

    def __init__(self, handle: Handle, model_name: str) -> None:
        self._handle = handle
        self._model_name = model_name
        self._result: Completion | None = None

    @property
    def id(self) -> str:
        return self._handle.id

    @property
    def request(self) -> Request:
        return self._handle.request

    def __iter__(self) -> Iterator[str]:
        for ev in self._handle:
            if isinstance(ev, Delta):
                if ev.reasoning:
                    yield Thought(ev.reasoning)
                if ev.text:
                    yield ev.text

    def cancel(self) -> None:
        self._handle.cancel()

    def result(self) -> Completion:
        if self._result is None:
            self._result = complete(self._handle.wait(), self._model_name)
        return self._result


class LocalBackend:
    """One loaded model, one engine of `n_slots` sequences, one driver.

    `ctx`: tokens per sequence. Left None, the engine is made at the first
    request: `--ctx` if given, else the model's training context up to
    `ctx_cap`, or with `size_to_first` only what that first request can use
    (prompt + max_tokens: a one-shot ask; llama.cpp clears the whole KV cache
    at creation, ~70 ms for 8192 tokens of the default model).
    """

    remote = False

    def __init__(
        self,
        model: Any,  # LoadedModel
        target: Target,
        n_slots: int = 1,
        ctx: int | None = None,
        ctx_cap: int = CHAT_CTX_CAP,
        size_to_first: bool = False,
        owns_model: bool = True,
    ) -> None:
        self.model = model
        self.owns_model = owns_model  # close() frees the model too
        self.target = target
        self.n_slots = n_slots
        self.ctx_cap = ctx_cap
        self.size_to_first = size_to_first
        self.prompter = Prompter(
            model, target.template_kwargs, target.think, target.reasoning_effort
        )
        self._driver: Driver | None = None
        if ctx is not None or not size_to_first:
            self._open(ctx or context_size(model, target.runtime, ctx_cap))

    @classmethod
    def load(cls, target: Target, verbose: bool = False, **kw: Any) -> LocalBackend:
        return cls(loader.load_model(target, verbose), target, **kw)

    @property
    def model_name(self) -> str:
        return self.model.name

    @property
    def ctx_slot(self) -> int:
        """Tokens per sequence (before the engine exists: what it will allow)."""
        if self._driver is not None:
            return self._driver.engine.ctx_slot
        return context_size(self.model, self.target.runtime, self.ctx_cap)

    @property
    def driver(self) -> Driver:
        assert self._driver is not None, "no request has sized the engine yet"
        return self._driver

    def _open(self, ctx: int) -> None:
        self._driver = Driver(make_engine(self.model, self.target, self.n_slots, ctx))

    def prepare(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        system: str | None = None,
        *,
        request_id: str | None = None,
        user: object = None,
        ignore_eog: bool = False,
        template_kwargs: dict[str, Any] | None = None,
    ) -> Request:
        """Render the chat template, tokenize, build and check the grammar;
        an empty prompt fails here (UsageError), one that cannot fit one
        sequence too (ContextTooLong), a broken template (RuntimeFailure)."""
        req = self.prompter.request(
            messages, params, system, request_id=request_id, user=user,
            template_kwargs=template_kwargs,
        )  # fmt: skip
        req.ignore_eog = ignore_eog
        if not req.tokens:
            raise UsageError("the prompt is empty after tokenization")
        check_prompt_fits(len(req.tokens), self.ctx_slot)
        if self._driver is None:
            mt = params.max_tokens
            needed = len(req.tokens) + mt + 2 if mt else None
            self._open(context_size(self.model, self.target.runtime, self.ctx_cap, needed))
        return req

    def submit(self, req: Request, sink: Sink | None = None) -> Handle:
        return self.driver.submit(req, sink)

    def start(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        system: str | None = None,
        *,
        request_id: str | None = None,
        ignore_eog: bool = False,
    ) -> LocalHandle:
        req = self.prepare(messages, params, system, request_id=request_id, ignore_eog=ignore_eog)
        return LocalHandle(self.submit(req), self.model_name)

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None
        if self.owns_model:
            self.model.close()

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
