"""Chat messages -> the prompt text, with the model's own chat template.

The template comes from the GGUF (or `--chat-template FILE`) and is untrusted
input: it is rendered in the transformers-compatible environment of
`formats.environment`, inside Jinja's immutable sandbox. Templates that know
no tools (the default model's) get the tool definitions in the system prompt
instead; templates with no system role get the system prompt folded into the
first user message, as llama.cpp does.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Any

from ..errors import RuntimeFailure, UsageError

TOOL_OPEN, TOOL_CLOSE = "<tool_call>", "</tool_call>"

# A ChatML template for models whose GGUF carries none.
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# Keywords oruel itself passes; a --template-arg or chat_template_kwargs may not.
RESERVED_KWARGS = ("messages", "tools", "add_generation_prompt")
# Where a message's reasoning may come; templates read reasoning_content or thinking.
_REASONING_KEYS = ("reasoning_content", "thinking", "reasoning")
_NONE_TEST = re.compile(r"""\[['"]content['"]\]\s+is\s+none|\.content\s+is\s+none""")
_THINKING_SWITCHES = (
    ("enable_thinking", re.compile(r"\benable_thinking\b")),
    ("reasoning_effort", re.compile(r"\breasoning_effort\b")),
    ("thinking", re.compile(r"\b(?:el)?if\s+(?:not\s+)?thinking\b")),
)


HERMES_CALL = f'{TOOL_OPEN}{{"name": <function name>, "arguments": <arguments object>}}{TOOL_CLOSE}'


def tool_instructions(tools: list[dict[str, Any]], example: str = HERMES_CALL) -> str:
    """The system-prompt text that teaches a model whose template lists no tools
    to call them, in `example`'s syntax (the one its replies are read in)."""
    defs = json.dumps([t["function"] for t in tools], ensure_ascii=False)
    return (
        "You may call one of the functions below. To call one, reply with only\n"
        f"{example}\n"
        f"Functions:\n<tools>\n{defs}\n</tools>"
    )


def _text(content: Any) -> str:
    """OpenAI content: a string, None, or a list of parts; keep the text parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    raise UsageError("message content must be a string or a list of text parts")


def _template_message(m: dict[str, Any], role: str, text: str) -> dict[str, Any]:
    """A message as transformers hands it to a template: keys set to None dropped
    (content None is "": OpenAI clients send it with tool_calls), and the
    reasoning under both names templates read."""
    out = {k: v for k, v in m.items() if v is not None and k != "content"}
    out["role"], out["content"] = role, text
    reasoning = next((m[k] for k in _REASONING_KEYS if m.get(k) is not None), None)
    if reasoning is not None:
        out = {"thinking": reasoning, **out, "reasoning_content": reasoning}
    return out


def normalize_messages(
    messages: list[dict[str, Any]],
    system: str | None,
    tools: list[dict[str, Any]] | None,
    template_has_tools: bool,
    renders_calls: bool | None = None,
    example: str = HERMES_CALL,
) -> list[dict[str, Any]]:
    """One system prompt (a message's wins over `system`), tools folded in when needed.

    A template that lists no tools gets oruel's instructions (calls spelled as
    `example`); one that does not render calls either (`renders_calls` false;
    it follows `template_has_tools` when None) gets the history's calls and tool
    results as text."""
    if renders_calls is None:
        renders_calls = template_has_tools
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role")
        if role not in ("system", "user", "assistant", "tool", "developer"):
            raise UsageError(f"message role {role!r} (allowed: system, user, assistant, tool)")
        role = "system" if role == "developer" else role
        text = _text(m.get("content"))
        if not renders_calls:
            if role == "tool":
                role, text = "user", f"<tool_response>\n{text}\n</tool_response>"
            for call in m.get("tool_calls") or []:
                fn = call.get("function", {})
                args = fn.get("arguments", "{}")
                text += f'{TOOL_OPEN}{{"name": {json.dumps(fn.get("name"))}, "arguments": {args}}}{TOOL_CLOSE}'
            m = {k: v for k, v in m.items() if k not in ("tool_calls", "tool_call_id")}
        out.append(_template_message(m, role, text))
    if not any(m["role"] == "system" for m in out) and system:
        out.insert(0, {"role": "system", "content": system})
    if tools and not template_has_tools:
        extra = tool_instructions(tools, example)
        if out and out[0]["role"] == "system":
            out[0] = {**out[0], "content": out[0]["content"] + "\n\n" + extra}
        else:
            out.insert(0, {"role": "system", "content": extra})
    return out


def fold_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The leading system message folded into the first user message (None: nothing to fold)."""
    if not messages or messages[0]["role"] != "system":
        return None
    rest = messages[1:]
    first = next((i for i, m in enumerate(rest) if m["role"] == "user"), None)
    if first is None:
        return None
    user = rest[first]
    joined = messages[0]["content"] + ("\n\n" + user["content"] if user["content"] else "")
    return [*rest[:first], {**user, "content": joined}, *rest[first + 1 :]]


@dataclass
class Support:
    """What a template supports, as `models info` shows it."""

    tools: bool
    system_role: bool
    thinking: bool
    switches: tuple[str, ...]  # the keywords that turn thinking on or off

    def lines(self) -> list[tuple[str, str]]:
        switch = ", ".join(self.switches) if self.switches else "none"
        return [
            ("tools", "yes" if self.tools else "no (oruel puts them in the system prompt)"),
            ("system role", "yes" if self.system_role else "no (folded into the first user turn)"),
            ("thinking", f"{'yes' if self.thinking else 'no'}; switch: {switch}"),
        ]


class ChatTemplate:
    """The model's template in Jinja's immutable sandbox.

    Failures are sorted by whose fault they are: a template that the sandbox
    stops (it reaches for `__init__`, `__class__`, or mutates its input), that
    does not parse, or that fails while rendering is the model file's fault,
    a RuntimeFailure (exit 1) naming `origin`; a template that refuses the
    messages through its own `raise_exception()` is about the request, a
    UsageError (exit 2).
    """

    def __init__(self, source: str | None, bos: str, eos: str, origin: str = "the model") -> None:
        from jinja2 import TemplateError

        from ..formats.environment import compile_template

        self.source = source or CHATML
        self.origin = origin
        self.has_tools = "tools" in self.source  # it lists the tools itself
        self.renders_calls = self.has_tools or "tool_calls" in self.source
        # DeepSeek R1's template renders an assistant's calls only when its
        # content is none; most others fail on a none content.
        self.none_beside_calls = bool(_NONE_TEST.search(self.source))
        self.bos, self.eos = bos, eos
        self.folded = False  # the system prompt was folded at least once (noticed once)
        try:
            self._template = compile_template(self.source)
        except TemplateError as e:
            raise RuntimeFailure(
                f"the chat template of {origin} does not parse: {_one_line(e)}"
            ) from None

    def render(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        kwargs: dict[str, Any] | None = None,
    ) -> str:
        """The prompt, add_generation_prompt on; `kwargs` are the template's keywords."""
        from ..formats.environment import TemplateRefusal

        try:
            return self._render(messages, tools, kwargs)
        except TemplateRefusal as e:
            folded = fold_system(messages)
            if folded is None:
                raise self._refusal(e) from None
            try:
                prompt = self._render(folded, tools, kwargs)
            except TemplateRefusal as again:
                raise self._refusal(again) from None
            if not self.folded:
                self.folded = True
                print(
                    f"oruel: the chat template of {self.origin} has no system role: "
                    "the system prompt goes into the first user message",
                    file=sys.stderr,
                )
            return prompt

    def _render(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        kwargs: dict[str, Any] | None,
    ) -> str:
        from ..formats.environment import SecurityError, TemplateRefusal, plain

        extra = dict(kwargs or {})
        if self.none_beside_calls:
            messages = [
                {**m, "content": None} if m.get("tool_calls") and not m.get("content") else m
                for m in messages
            ]
        context = plain(
            {
                "bos_token": self.bos,
                "eos_token": self.eos,
                **extra,
                "messages": messages,
                "tools": tools if tools and self.has_tools else None,
                "documents": extra.get("documents"),
                "add_generation_prompt": True,
            }
        )
        try:
            return self._template.render(**context)
        except TemplateRefusal:
            raise
        except SecurityError as e:
            raise RuntimeFailure(
                f"the chat template of {self.origin} was stopped by the sandbox: {_one_line(e)} "
                "(the model file's template is unsafe; nothing it asked for was run)"
            ) from None
        except Exception as e:  # TypeError, UndefinedError, ...: a broken template
            raise RuntimeFailure(
                f"the chat template of {self.origin} failed: {type(e).__name__}: {_one_line(e)}"
            ) from None

    def _refusal(self, e: Exception) -> UsageError:
        return UsageError(
            f"the chat template of {self.origin} refused these messages: {_one_line(e)}"
        )

    def support(self) -> Support:
        """Tools, a system role, thinking and its switches, read off the template."""
        from ..formats.environment import TemplateRefusal

        probe = "oruel-probe-system-text"
        messages = [{"role": "system", "content": probe}, {"role": "user", "content": "hi"}]
        try:
            system_role = probe in self._render(messages, None, None)
        except (TemplateRefusal, RuntimeFailure):
            system_role = False
        switches = tuple(name for name, rx in _THINKING_SWITCHES if rx.search(self.source))
        thinks = bool(switches) or "think>" in self.source or "reasoning_content" in self.source
        return Support(self.has_tools, system_role, thinks, switches)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())
