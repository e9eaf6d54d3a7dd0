"""The local backend: a GGUF model on this machine, through one engine driver.

Its Prompter turns messages and parameters into the engine's Request (the
template rendered, the prompt tokenized, the grammar and the reply's reading
set up), so a request walks from the commands to the driver in this file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..api.ids import completion_id
from ..engine import loader
from ..engine.completion import complete
from ..engine.driver import Driver, Handle, Sink
from ..engine.engine import Delta, Request, check_prompt_fits
from ..engine.grammars import json_object_grammar, json_schema_grammar
from ..engine.llama import LoadedModel
from ..engine.loader import CHAT_CTX_CAP, Target, context_size, make_engine
from ..engine.reply import Completion
from ..engine.sampling import Grammar, check_grammar
from ..engine.template import ChatTemplate, normalize_messages
from ..errors import UsageError
from ..formats.calls import ToolFormat, format_for
from ..formats.calls.reasoning import thinking_for
from ..formats.calls.stream import Reading
from ..params.model import GenerationParams
from ..params.values import check_bias_ids, check_tool_choice
from .base import Thought


class Prompter:
    """Renders and tokenizes requests for one loaded model."""

    def __init__(
        self,
        model: LoadedModel,
        template_kwargs: dict[str, Any] | None = None,
        think: bool | None = None,
        reasoning_effort: str | None = None,
    ) -> None:
        self.model = model
        self.template = ChatTemplate(
            model.chat_template,
            model.bos_text,
            model.eos_text,
            origin=getattr(model, "template_origin", str(model.path)),
        )
        self.template_kwargs = dict(template_kwargs or {})  # the job's: flags, config
        if think is not None or reasoning_effort is not None:
            from ..formats.kwargs import thinking_kwargs

            switches = self.template.support().switches
            origin = self.template.origin
            self.template_kwargs |= thinking_kwargs(think, reasoning_effort, switches, origin)
        # How replies are read: the family's tool-call format and thinking
        # markers, found in the template's text (oruel's own `<tool_call>` when
        # it has neither tools nor a family's call markers).
        source = model.chat_template if self.template.renders_calls else None
        self.tool_format: ToolFormat = format_for(source)
        self.thinking = thinking_for(model.chat_template)

    def messages_for(
        self, messages: list[dict[str, Any]], params: GenerationParams, system: str | None
    ) -> list[dict[str, Any]]:
        t = self.template
        return normalize_messages(
            messages, system, self._offered_tools(params), t.has_tools, t.renders_calls,
            self.tool_format.example,
        )  # fmt: skip

    def prompt(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        system: str | None = None,
        template_kwargs: dict[str, Any] | None = None,
    ) -> str:
        """The exact text the model is given (special tokens spelled out)."""
        kwargs = {**self.template_kwargs, **(template_kwargs or {})}  # a request's win
        tools = self._offered_tools(params)
        return self.template.render(self.messages_for(messages, params, system), tools, kwargs)

    def request(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        system: str | None = None,
        request_id: str | None = None,
        user: object = None,
        template_kwargs: dict[str, Any] | None = None,
    ) -> Request:
        check_bias_ids(params, self.model.n_vocab)
        prompt = self.prompt(messages, params, system, template_kwargs)
        grammar = grammar_for(params, self.tool_format)
        if grammar is not None:
            check_grammar(grammar, self.model.vocab)
        return Request(
            id=request_id or completion_id(),
            tokens=self.model.tokenize_prompt(prompt),
            params=params,
            grammar=grammar,
            priority=0 if params.tier == "turbo" else 1,
            user=user,
            reading=Reading(
                self.tool_format,
                self.thinking,
                tools=params.tools_active,
                started=self.thinking is not None and self.thinking.opened_by(prompt),
            ),
        )

    @staticmethod
    def _offered_tools(params: GenerationParams) -> list[dict[str, Any]] | None:
        if not params.tools_active:
            return None
        name = params.forced_tool()
        if name is not None:
            return [t for t in params.tools if t["function"]["name"] == name]
        return params.tools


def grammar_for(params: GenerationParams, fmt: ToolFormat | None = None) -> Grammar | None:
    """The grammar a request needs: a tool call in the model's format (`fmt`;
    oruel's own `<tool_call>` when None), a schema, a JSON object, or none."""
    tools, choice = params.tools, params.tool_choice
    check_tool_choice(params)  # merge() checked it already; requests built otherwise too
    if params.tools_active:
        fmt = fmt or format_for(None)
        name = params.forced_tool()
        if name is not None or choice == "required":
            return Grammar(fmt.grammar(tools, name))
        return Grammar(fmt.grammar(tools, lazy=True), lazy_trigger=fmt.trigger)
    fmt = params.response_kind
    if fmt == "json_object":
        return json_object_grammar()
    if fmt == "json_schema":
        return json_schema_grammar(params.response_format["json_schema"]["schema"])
    return None


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
