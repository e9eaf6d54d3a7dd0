"""Between the engine and the commands: messages + parameters -> a Request, and
the engine's Finish -> a chat completion (tool calls parsed, JSON checked)."""

from __future__ import annotations

from typing import Any

from ..api.ids import completion_id
from ..formats.calls import ToolFormat, format_for
from ..formats.calls.reasoning import thinking_for
from ..formats.calls.stream import Reading
from ..params.model import GenerationParams
from ..params.validate import check_bias_ids, check_tool_choice
from .engine import Finish, Request
from .grammars import json_object_grammar, json_schema_grammar
from .llama import LoadedModel
from .reply import Completion, apply_calls, check_json, json_warning
from .sampling import Grammar, check_grammar
from .template import ChatTemplate, normalize_messages

__all__ = ["Completion", "Prompter", "complete", "grammar_for", "json_warning"]


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


def complete(finish: Finish, model_name: str) -> Completion:
    """The engine's raw Finish -> a Completion: tool calls parsed, structure checked."""
    req, params = finish.request, finish.request.params
    text, reason = finish.text, finish.finish_reason
    comp = Completion(
        id=req.id,
        model=model_name,
        content=text,
        finish_reason=reason,
        prompt_tokens=finish.prompt_tokens,
        completion_tokens=finish.completion_tokens,
        seconds=finish.seconds,
        first_token_seconds=finish.first_token_seconds,
        error=finish.error,
        cached_tokens=finish.cached_tokens,
        logprobs=finish.logprobs,
        context_full=finish.context_full,
        reasoning_content=finish.reasoning,
        reasoning_tokens=finish.reasoning_tokens,
    )
    if finish.error is not None:
        return comp
    reading = req.reading
    if reading is not None and reading.fmt.name == "gpt-oss":  # its channels hold both
        parsed = reading.reader().read(text)
        comp.content, comp.reasoning_content = parsed.content, parsed.reasoning
        if params.tools_active:
            apply_calls(comp, params, parsed)
        return comp
    if params.tools_active:
        fmt = reading.fmt if reading is not None else format_for(None)
        apply_calls(comp, params, fmt.parse(text))
        return comp
    fmt = params.response_kind
    if fmt in ("json_object", "json_schema"):
        check_json(comp, params, fmt)
    return comp
