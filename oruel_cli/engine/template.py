"""Chat messages -> the prompt text, with the model's own chat template.

The template comes from the GGUF and is untrusted input (CVE-2024-34359): it
is rendered in Jinja's immutable sandbox. Templates that know no tools (the
default model's) get the tool definitions in the system prompt instead.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import RuntimeFailure, UsageError

TOOL_OPEN, TOOL_CLOSE = "<tool_call>", "</tool_call>"

# A ChatML template for models whose GGUF carries none.
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def tool_instructions(tools: list[dict[str, Any]]) -> str:
    """The system-prompt text that teaches a template-less model to call tools."""
    defs = json.dumps([t["function"] for t in tools], ensure_ascii=False)
    return (
        "You may call one of the functions below. To call one, reply with only\n"
        f'{TOOL_OPEN}{{"name": <function name>, "arguments": <arguments object>}}{TOOL_CLOSE}\n'
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


def normalize_messages(
    messages: list[dict[str, Any]],
    system: str | None,
    tools: list[dict[str, Any]] | None,
    template_has_tools: bool,
) -> list[dict[str, Any]]:
    """One system prompt (a message's wins over `system`), tools folded in when needed."""
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role")
        if role not in ("system", "user", "assistant", "tool", "developer"):
            raise UsageError(f"message role {role!r} (allowed: system, user, assistant, tool)")
        role = "system" if role == "developer" else role
        text = _text(m.get("content"))
        if not template_has_tools:
            if role == "tool":
                role, text = "user", f"<tool_response>\n{text}\n</tool_response>"
            for call in m.get("tool_calls") or []:
                fn = call.get("function", {})
                args = fn.get("arguments", "{}")
                text += f'{TOOL_OPEN}{{"name": {json.dumps(fn.get("name"))}, "arguments": {args}}}{TOOL_CLOSE}'
        out.append(
            {**{k: v for k, v in m.items() if k != "content"}, "role": role, "content": text}
        )
    if not any(m["role"] == "system" for m in out) and system:
        out.insert(0, {"role": "system", "content": system})
    if tools and not template_has_tools:
        extra = tool_instructions(tools)
        if out and out[0]["role"] == "system":
            out[0] = {**out[0], "content": out[0]["content"] + "\n\n" + extra}
        else:
            out.insert(0, {"role": "system", "content": extra})
    return out


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
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        self.source = source or CHATML
        self.origin = origin
        self.has_tools = "tools" in self.source
        self.bos, self.eos = bos, eos
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = _raise
        try:
            self._template = env.from_string(self.source)
        except TemplateError as e:
            raise RuntimeFailure(
                f"the chat template of {origin} does not parse: {_one_line(e)}"
            ) from None

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        from jinja2.sandbox import SecurityError

        kwargs: dict[str, Any] = {
            "messages": messages,
            "add_generation_prompt": True,
            "bos_token": self.bos,
            "eos_token": self.eos,
        }
        if tools and self.has_tools:
            kwargs["tools"] = tools
        try:
            return self._template.render(**kwargs)
        except TemplateRefusal as e:
            raise UsageError(
                f"the chat template of {self.origin} refused these messages: {_one_line(e)}"
            ) from None
        except SecurityError as e:
            raise RuntimeFailure(
                f"the chat template of {self.origin} was stopped by the sandbox: {_one_line(e)} "
                "(the model file's template is unsafe; nothing it asked for was run)"
            ) from None
        except Exception as e:  # TypeError, UndefinedError, ...: a broken template
            raise RuntimeFailure(
                f"the chat template of {self.origin} failed: {type(e).__name__}: {_one_line(e)}"
            ) from None


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


class TemplateRefusal(Exception):
    """raise_exception() called by the template: it refuses these messages."""


def _raise(message: str) -> None:
    raise TemplateRefusal(message)
