"""What every tool-call format knows, and the pieces the formats share.

A format answers four questions for its family: does this template belong to me
(`detect`), what text opens a call (`trigger`: the lazy grammar for `tool_choice`
auto waits for it), what grammar writes one or more calls in my syntax from the
first token (`grammar`, for `required` and a named function), and which calls
does this reply hold (`parse`). Parsing is strict: a reply that opens a call and
breaks it keeps its whole text as content, with `broken` set, so the caller can
warn once and finish `stop`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ...api.ids import tool_call_id

_DECODER = json.JSONDecoder()


@dataclass
class Call:
    """One call as the model wrote it: arguments a parsed JSON value."""

    name: str
    arguments: Any
    id: str | None = None

    def openai(self) -> dict[str, Any]:
        """OpenAI's `tool_calls` item: arguments a JSON string, an id minted if none."""
        args = (
            self.arguments
            if isinstance(self.arguments, str)
            else json.dumps(self.arguments, ensure_ascii=False)
        )
        return {
            "id": self.id or tool_call_id(),
            "type": "function",
            "function": {"name": self.name, "arguments": args},
        }


@dataclass
class Parsed:
    """A reply read in a format: its content (calls removed) and its calls."""

    content: str
    calls: list[Call] = field(default_factory=list)
    broken: bool = False  # a call was opened and not finished as the format requires
    reasoning: str | None = None  # the thinking, split out where the family marks it


class ToolFormat:
    """The base of every format; subclasses set the class attributes and `_calls`."""

    name: ClassVar[str]
    models: ClassVar[str]  # the families that write it, for the README table and `models info`
    trigger: ClassVar[str]  # the text that opens a call
    markers: ClassVar[tuple[str, ...]] = ()  # any of these in a template selects the format
    # How oruel's instructions spell a call for a template that lists no tools
    # itself (the default model's; DeepSeek R1's, which only renders calls).
    example: ClassVar[str] = (
        '<tool_call>{"name": <function name>, "arguments": <arguments object>}</tool_call>'
    )

    def detect(self, template: str) -> bool:
        return any(m in template for m in self.markers)

    def grammar(
        self, tools: list[dict[str, Any]], name: str | None = None, lazy: bool = False
    ) -> str:
        """GBNF of calls in this syntax. Forced (`lazy` false), it holds the whole reply
        from its first token; lazy, it starts at `trigger`, where llama.cpp starts it."""
        raise NotImplementedError

    def parse(self, text: str) -> Parsed:
        """Split `text` at the first call's opening into content and calls."""
        at = self.find(text)
        if at < 0:
            return Parsed(text)
        try:
            calls, end = self._calls(text, at)
        except ValueError:
            return Parsed(text, broken=True)
        if not calls:
            return Parsed(text, broken=True)
        return Parsed(join_content(text[:at], text[end:]), calls)

    def find(self, text: str) -> int:
        """Where the first call opens, or -1."""
        return text.find(self.trigger)

    def openers(self) -> tuple[str, ...]:
        """Every spelling of a call's opening (a stream holds back a partial one)."""
        return (self.trigger,)

    def partial_opening(self, text: str) -> int:
        """Where an opening that the next tokens may complete starts at the end of
        `text`, or len(text): a stream shows nothing from there on yet."""
        for start in range(max(0, len(text) - max(map(len, self.openers()))), len(text)):
            tail = text[start:]
            if any(o.startswith(tail) for o in self.openers()):
                return start
        return len(text)

    def _calls(self, text: str, at: int) -> tuple[list[Call], int]:
        """The calls that start at `at` and where they end; ValueError if broken."""
        raise NotImplementedError


def join_content(before: str, after: str) -> str:
    """The text around the calls, as content: the model's words without the calls.

    Only the end of `before` is trimmed (its start is what a stream already showed).
    """
    before, after = before.rstrip(), after.strip()
    return f"{before}\n{after}" if before and after else before or after


def json_at(text: str, i: int) -> tuple[Any, int]:
    """The JSON value starting at `text[i]` (spaces skipped) and the index after it."""
    i = skip_space(text, i)
    try:
        return _DECODER.raw_decode(text, i)
    except json.JSONDecodeError as e:
        raise ValueError(str(e)) from None


def skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def expect(text: str, i: int, word: str) -> int:
    """The index after `word` at `text[i]` (spaces before it skipped); ValueError if absent."""
    i = skip_space(text, i)
    if not text.startswith(word, i):
        raise ValueError(f"expected {word!r} at {i}")
    return i + len(word)


def call_from_object(obj: Any, args_key: str = "arguments") -> Call:
    """`{"name": ..., "arguments": {...}}` (or another key for the arguments) as a Call."""
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise ValueError("a call is an object with a string name")
    args = obj.get(args_key, obj.get("arguments", {}))
    if isinstance(args, str):  # some models write the arguments as a JSON string
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            raise ValueError("arguments are not JSON") from None
    call_id = obj.get("id")
    return Call(obj["name"], args, call_id if isinstance(call_id, str) else None)
