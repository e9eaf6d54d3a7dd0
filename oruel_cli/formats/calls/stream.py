"""Reading a reply as it streams: thinking and answer apart, a call never shown as text.

`ReplyReader.read` reads a whole reply; `feed` takes it a piece at a time and returns
what may be shown now (thinking, answer), and `finish` the last pieces and the whole
reading. Whatever the pieces, what `feed` and `finish` return joins to what `read`
gives for the whole: a stream shows a prefix of the final text and never takes back
a word. So a stream holds back what the next tokens may still change: a partial
closing marker, an opening that may become a call (and everything after a call
opens), and trailing spaces, which are trimmed where a call follows.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Parsed, ToolFormat
from .gpt_oss import GptOss
from .reasoning import Thinking, hold_partial


class ReplyReader:
    """One reply of a model whose format and thinking markers are known.

    `tools` false: the reply is not read for calls (no tools were offered).
    `started`: the prompt opened the thinking block, so the reply starts inside it.
    """

    def __init__(
        self,
        fmt: ToolFormat,
        thinking: Thinking | None = None,
        tools: bool = False,
        started: bool = False,
    ) -> None:
        self.fmt, self.thinking, self.tools, self.started = fmt, thinking, tools, started
        self.text = ""
        self._shown = ("", "")

    def read(self, text: str) -> Parsed:
        if isinstance(self.fmt, GptOss):
            return self.fmt.parse(text)
        reasoning, rest = (None, text)
        if self.thinking is not None:
            reasoning, rest = self.thinking.split(text, self.started)
        parsed = self.fmt.parse(rest) if self.tools else Parsed(rest)
        parsed.reasoning = reasoning
        return parsed

    def feed(self, piece: str) -> tuple[str, str]:
        self.text += piece
        return self._advance(self._visible(self.text))

    def finish(self) -> tuple[Parsed, str, str]:
        parsed = self.read(self.text)
        reasoning, content = self._advance((parsed.reasoning or "", parsed.content))
        return parsed, reasoning, content

    def _advance(self, visible: tuple[str, str]) -> tuple[str, str]:
        (r0, c0), (r1, c1) = self._shown, visible
        if not (r1.startswith(r0) and c1.startswith(c0)):  # a rule above was broken
            raise AssertionError(
                f"a stream would take back text: {visible!r} after {self._shown!r}"
            )
        self._shown = visible
        return r1[len(r0) :], c1[len(c0) :]

    def _visible(self, text: str) -> tuple[str, str]:
        """(thinking, answer) that no later token can change."""
        if isinstance(self.fmt, GptOss):
            p = self.fmt.parse(text, partial=True)
            return (p.reasoning or "").rstrip(), p.content.rstrip()
        rest = text
        if self.thinking is not None:
            t = self.thinking
            if not self.started:
                head = text.lstrip()
                if t.open.startswith(head):  # nothing yet, or a partial opening
                    return "", ""
            if self.started or head.startswith(t.open):
                inner = text if self.started else head[len(t.open) :]
                end = inner.find(t.close)
                if end < 0:
                    return hold_partial(inner, t.close).strip(), ""
                rest = inner[end + len(t.close) :].lstrip()
                thought = inner[:end].strip()
                return thought, self._answer(rest)
        return "", self._answer(rest)

    def _answer(self, rest: str) -> str:
        if not self.tools:
            return rest
        at = self.fmt.find(rest)
        if at < 0:
            at = self.fmt.partial_opening(rest)
        return rest[:at].rstrip()


@dataclass(frozen=True)
class Reading:
    """How one request's reply is read, fixed when its prompt is rendered: the
    model's format, its thinking markers, whether tools were offered, and
    whether the prompt itself opened the thinking block."""

    fmt: ToolFormat
    thinking: Thinking | None = None
    tools: bool = False
    started: bool = False

    def reader(self) -> ReplyReader:
        return ReplyReader(self.fmt, self.thinking, self.tools, self.started)
