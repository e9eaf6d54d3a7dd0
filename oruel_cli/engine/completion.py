"""Between the engine and the commands: messages + parameters -> a Request, and
the engine's Finish -> a chat completion (tool calls parsed, JSON checked)."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..params.model import GenerationParams
from ..params.validate import check_tool_choice
from .engine import Finish, Request
from .grammars import json_object_grammar, json_schema_grammar, tool_call_grammar
from .llama import LoadedModel
from .sampling import Grammar, check_grammar
from .template import TOOL_CLOSE, TOOL_OPEN, ChatTemplate, normalize_messages

_TOOL_RE = re.compile(re.escape(TOOL_OPEN) + r"\s*(.*?)\s*" + re.escape(TOOL_CLOSE), re.S)


@dataclass
class Completion:
    """One finished reply, with what a user should be warned about."""

    id: str
    model: str
    content: str | None
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    first_token_seconds: float | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    schema_error: str | None = None  # a json_schema violation (an error in a batch)
    error: str | None = None  # finish_reason "error": the generation failed inside llama.cpp
    cached_tokens: int = 0  # prompt tokens whose KV was reused
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def tokens_per_second(self) -> float:
        """Decode speed: tokens after the first over the time after the first, as
        llama.cpp's own tools count it (the first token comes from the prompt pass)."""
        decode = self.seconds - (self.first_token_seconds or 0.0)
        if self.completion_tokens > 1 and decode > 0:
            return (self.completion_tokens - 1) / decode
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def prompt_seconds(self) -> float:
        return self.first_token_seconds or 0.0

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }

    def to_openai(self) -> dict[str, Any]:
        """OpenAI's chat.completion object."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": self.finish_reason,
                    "logprobs": None,
                }
            ],  # fmt: skip
            "usage": self.usage(),
        }


class Prompter:
    """Renders and tokenizes requests for one loaded model."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.template = ChatTemplate(
            model.chat_template, model.bos_text, model.eos_text, origin=str(model.path)
        )

    def messages_for(
        self, messages: list[dict[str, Any]], params: GenerationParams, system: str | None
    ) -> list[dict[str, Any]]:
        return normalize_messages(
            messages, system, self._offered_tools(params), self.template.has_tools
        )

    def request(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        system: str | None = None,
        request_id: str | None = None,
        user: object = None,
    ) -> Request:
        tools = self._offered_tools(params)
        prompt = self.template.render(self.messages_for(messages, params, system), tools)
        grammar = grammar_for(params)
        if grammar is not None:
            check_grammar(grammar, self.model.vocab)
        return Request(
            id=request_id or f"chatcmpl-{uuid.uuid4().hex[:24]}",
            tokens=self.model.tokenize_prompt(prompt),
            params=params,
            grammar=grammar,
            priority=0 if params.tier == "turbo" else 1,
            user=user,
        )

    @staticmethod
    def _offered_tools(params: GenerationParams) -> list[dict[str, Any]] | None:
        if not params.tools or params.tool_choice == "none":
            return None
        name = params.forced_tool()
        if name is not None:
            return [t for t in params.tools if t["function"]["name"] == name]
        return params.tools


def grammar_for(params: GenerationParams) -> Grammar | None:
    """The grammar a request needs: a tool call, a schema, a JSON object, or none."""
    tools, choice = params.tools, params.tool_choice
    check_tool_choice(params)  # merge() checked it already; requests built otherwise too
    if tools and choice != "none":
        name = params.forced_tool()
        if name is not None or choice == "required":
            return tool_call_grammar(tools, name)
        return tool_call_grammar(tools, lazy=True)
    fmt = (params.response_format or {}).get("type", "text")
    if fmt == "json_object":
        return json_object_grammar()
    if fmt == "json_schema":
        return json_schema_grammar(params.response_format["json_schema"]["schema"])
    return None


def json_warning(
    messages: list[dict[str, Any]], params: GenerationParams, system: str | None = None
) -> str | None:
    """The reference: JSON mode also needs the prompt (or system prompt) to ask for JSON."""
    if (params.response_format or {}).get("type") != "json_object":
        return None
    texts = [str(m.get("content") or "") for m in messages] + [system or ""]
    if any("json" in t.lower() for t in texts):
        return None
    return "response_format json_object is set but no message mentions JSON; say so in the prompt"


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
    )
    if finish.error is not None:
        return comp
    if params.tools and params.tool_choice != "none":
        _extract_tool_calls(comp, params)
        return comp
    fmt = (params.response_format or {}).get("type", "text")
    if fmt in ("json_object", "json_schema"):
        _check_json(comp, params, fmt)
    return comp


def _extract_tool_calls(comp: Completion, params: GenerationParams) -> None:
    text = comp.content or ""
    calls = []
    by_name = {t["function"]["name"]: t["function"] for t in params.tools or []}
    for m in _TOOL_RE.finditer(text):
        try:
            call = json.loads(m.group(1))
        except json.JSONDecodeError:
            comp.warnings.append("the model wrote a tool call that is not valid JSON")
            continue
        name, args = call.get("name"), call.get("arguments", {})
        schema = (by_name.get(name) or {}).get("parameters")
        if name not in by_name:
            comp.warnings.append(f"the model called an unknown tool {name!r}")
        elif schema and (err := _schema_error(args, schema)):
            comp.warnings.append(f"tool call {name}: arguments do not follow the schema: {err}")
        calls.append(
            {
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)},
            }
        )
    if calls:
        rest = _TOOL_RE.sub("", text).strip()
        comp.content = rest or None
        comp.tool_calls = calls
        comp.finish_reason = "tool_calls"
    elif TOOL_OPEN in text and comp.finish_reason == "length":
        comp.warnings.append("max_tokens cut the tool call short")


def _check_json(comp: Completion, params: GenerationParams, fmt: str) -> None:
    try:
        value = json.loads(comp.content or "")
    except json.JSONDecodeError:
        if comp.finish_reason == "length":
            comp.warnings.append("max_tokens cut the JSON short: the output does not parse")
        else:
            comp.warnings.append("the output does not parse as JSON")
        return
    if fmt == "json_schema":
        schema = params.response_format["json_schema"]["schema"]  # type: ignore[index]
        if err := _schema_error(value, schema):
            comp.schema_error = f"the output does not follow the JSON Schema: {err}"
            comp.warnings.append(comp.schema_error)


def _schema_error(value: Any, schema: dict[str, Any]) -> str | None:
    import jsonschema

    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as e:
        return e.message
    return None
