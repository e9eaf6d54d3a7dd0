"""What one chat is, apart from any terminal or model: the conversation, the
parameter layers with their provenance, and the trimming of old exchanges
when the history outgrows the context.

A session can start from given messages and parameters (a conversation
carried on from elsewhere): `ChatSession(ChatParams(...), messages=[...])`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..errors import UsageError
from ..params.layering import Layer, ParamResolver, Resolved, make_layer
from ..params.model import GenerationParams

# Labels of the "flag" layers. A /set is a flag typed at the prompt, so its
# values keep the flag source and precedence; the label says where each came
# from: `temperature = 0.2 (flag /set)`. A name is in one layer at a time (the
# latest setting replaces it), so the layers' order does not matter.
CLI, LOADED, SET = "", "/load", "/set"

# The message keys a chat request carries; others (such as "cut") are the session's own.
_SENT_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name")


class ChatParams:
    """The parameters of a chat: default < config < preset < carried < flags,
    where the flags are those of the command line, of a /load and of /set, and
    `carried` the layer of a logged conversation carried on (`chat -c`).

    Every change is validated whole before it is kept, so a bad value changes
    nothing and its message is the one the flag would give.
    """

    def __init__(
        self,
        config: Config,
        preset: str | None = None,
        flags: dict[str, Any] | None = None,
        system: str | None = None,
        carried: Layer | None = None,
        system_source: str = "--system",
    ) -> None:
        self.resolver = ParamResolver(config, preset, {}, carried=carried)
        self.values: dict[str, tuple[Any, str]] = {k: (v, CLI) for k, v in (flags or {}).items()}
        # --system, /system, a transcript's or a carried conversation's;
        # None: the preset's or the model's
        self.system = system
        self.system_source = system_source if system else ""
        self.resolved = self._resolve(self.values, self.resolver.preset_name, system)

    # -- reading ------------------------------------------------------------------

    @property
    def params(self) -> GenerationParams:
        return self.resolved.params

    @property
    def preset_name(self) -> str | None:
        return self.resolver.preset_name

    def line(self, name: str) -> str:
        """'name = value (source)', as /params shows it."""
        prefix = f"{name} = "
        return next(line for line in self.resolved.effective.lines() if line.startswith(prefix))

    def system_line(self) -> str:
        """The system prompt and where it comes from."""
        text = self.resolved.system
        if text is None:
            return "system prompt: none set (the model's chat template may add its own)"
        if self.system is not None:
            source = self.system_source
        else:
            source = f"preset {self.preset_name}"
        return f"system prompt ({source}): {text}"

    def chosen(self) -> dict[str, Any]:
        """The values set by flags, /load or /set: what a transcript keeps."""
        return {name: value for name, (value, _) in self.values.items()}

    # -- changing -------------------------------------------------------------------

    def set(self, values: dict[str, Any]) -> None:
        """/set: values already parsed as flags parse them."""
        new = {**self.values, **{k: (v, SET) for k, v in values.items()}}
        self._commit(new, self.preset_name, self.system, self.system_source)

    def unset(self, name: str) -> bool:
        """/unset: drop the value a flag, /load or /set gave; False if none did."""
        if name not in self.values:
            return False
        new = {k: v for k, v in self.values.items() if k != name}
        self._commit(new, self.preset_name, self.system, self.system_source)
        return True

    def use_preset(self, name: str | None) -> None:
        """/preset: another preset (None: none); flags still win over it."""
        self._commit(self.values, name, self.system, self.system_source)

    def set_system(self, text: str | None, source: str = "/system") -> None:
        """/system: None goes back to --system's absence (the preset's or the model's)."""
        self._commit(self.values, self.preset_name, text, source if text is not None else "")

    def replace(
        self, values: dict[str, Any], preset: str | None, system: str | None, source: str = LOADED
    ) -> None:
        """/load: its preset, system prompt and values replace the session's
        (a carried conversation's values too: this is another conversation);
        `source` labels them."""
        carried, self.resolver.carried = self.resolver.carried, None
        try:
            self._commit(
                {k: (v, source) for k, v in values.items()},
                preset,
                system,
                source if system else "",
            )
        except Exception:
            self.resolver.carried = carried  # refused: nothing changes
            raise

    def _commit(
        self,
        values: dict[str, tuple[Any, str]],
        preset: str | None,
        system: str | None,
        system_source: str,
    ) -> None:
        resolved = self._resolve(values, preset, system)  # raises before anything changes
        self.values, self.system, self.system_source = values, system, system_source
        self.resolver.preset_name = preset
        self.resolved = resolved

    def _resolve(
        self, values: dict[str, tuple[Any, str]], preset: str | None, system: str | None
    ) -> Resolved:
        by_label: dict[str, dict[str, Any]] = {}
        for name, (value, label) in values.items():
            by_label.setdefault(label, {})[name] = value
        layers: list[Layer] = [make_layer("flag", v, label) for label, v in by_label.items()]
        if preset:
            self.resolver.preset(preset)  # an unknown preset fails here
        before = self.resolver.preset_name
        self.resolver.preset_name = preset
        try:
            return self.resolver.resolve(line_system=system, flag_layers=layers)
        finally:
            self.resolver.preset_name = before


@dataclass
class Attachment:
    """A file's text read by /read, sent with the next message."""

    path: str
    text: str


@dataclass
class ChatSession:
    """The conversation: every message (the whole transcript, for /save) and
    `start`, the first message still sent: older exchanges were dropped to fit
    the context. A leading system message becomes the session's system prompt,
    so trimming can never drop it."""

    params: ChatParams
    messages: list[dict[str, Any]] = field(default_factory=list)
    start: int = 0
    attachments: list[Attachment] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.messages and self.messages[0].get("role") == "system":
            first, *self.messages = self.messages
            self.params.set_system(str(first.get("content") or ""), "conversation")

    # -- what is sent -------------------------------------------------------------

    def window(self) -> list[dict[str, Any]]:
        """The messages sent with the next request, without the session's own keys."""
        return [
            {k: m[k] for k in _SENT_KEYS if k in m and m[k] is not None}
            for m in self.messages[self.start :]
        ]

    def compose(self, text: str) -> str:
        """A message with the files read since the last one before it (as
        `cat FILE | oruel ask TEXT` does: the text, a blank line, the message)."""
        parts = [a.text.rstrip("\n") for a in self.attachments] + [text]
        return "\n\n".join(p for p in parts if p)

    # -- changes ----------------------------------------------------------------------

    def add_user(self, text: str) -> None:
        """The next message, with the attachments (which it uses up)."""
        self.messages.append({"role": "user", "content": self.compose(text)})
        self.attachments = []

    def add_reply(
        self, content: str | None, tool_calls: list[dict[str, Any]] | None, cut: bool
    ) -> None:
        """The model's reply; `cut`: Ctrl-C stopped it, and the partial text stays."""
        msg: dict[str, Any] = {"role": "assistant", "content": content or ""}
        if tool_calls:
            msg["tool_calls"] = tool_calls
        if cut:
            msg["cut"] = True
        self.messages.append(msg)

    def pop_user(self) -> None:
        """Take back the last message, which was never answered (refused, failed)."""
        if self.messages and self.messages[-1]["role"] == "user":
            self.messages.pop()
        self.start = min(self.start, len(self.messages))

    def undo(self) -> int:
        """Drop the last exchange (the last message and what followed it): the
        number of messages removed."""
        starts = self._user_indices(0)
        if not starts:
            raise UsageError("nothing to undo: the conversation is empty")
        removed = len(self.messages) - starts[-1]
        del self.messages[starts[-1] :]
        self.start = min(self.start, len(self.messages))
        return removed

    def take_reply(self) -> list[dict[str, Any]]:
        """/retry: remove the last reply (kept by the caller, to put back if the
        new one fails); the last message is sent again."""
        starts = self._user_indices(0)
        if not starts:
            raise UsageError("nothing to retry: the conversation is empty")
        if starts[-1] < self.start:  # dropped from the context: it cannot be re-sent
            self.start = starts[-1]
        old = self.messages[starts[-1] + 1 :]
        del self.messages[starts[-1] + 1 :]
        return old

    def put_back(self, old: list[dict[str, Any]]) -> None:
        self.messages.extend(old)

    def reset(self) -> None:
        self.messages, self.start, self.attachments = [], 0, []

    def replace(self, messages: list[dict[str, Any]]) -> None:
        """/load: another conversation, all of it sent again (trimmed if need be)."""
        self.messages, self.start, self.attachments = list(messages), 0, []

    # -- trimming --------------------------------------------------------------------

    def trim(self, count: Callable[[list[dict[str, Any]]], int | None], budget: int) -> int:
        """Drop the oldest exchanges of the window until the prompt fits
        `budget` tokens; the number dropped (see `exchanges_to_drop`)."""
        window = self.window()
        starts = self._user_indices(self.start)
        cuts = [0] + [s - self.start for s in starts[1:]]  # cuts[k]: drop k exchanges
        k = exchanges_to_drop(lambda k: count(window[cuts[k] :]), len(cuts) - 1, budget)
        self.start += cuts[k]
        return k

    def _user_indices(self, since: int) -> list[int]:
        return [i for i in range(since, len(self.messages)) if self.messages[i]["role"] == "user"]

    # -- showing ----------------------------------------------------------------------

    def summary(self) -> str:
        n = len(self._user_indices(0))
        dropped = len(self._user_indices(0)) - len(self._user_indices(self.start))
        out = f"{n} exchange{'s' if n != 1 else ''}"
        return out + (f" ({dropped} dropped from the context)" if dropped else "")


def reply_room(ctx: int, max_tokens: int | None) -> int:
    """Tokens kept free for the reply when history is trimmed: max_tokens, but
    at most a quarter of the context (unset max_tokens: that quarter), so a
    large max_tokens cannot empty the history."""
    quarter = max(ctx // 4, 1)
    return min(max_tokens, quarter) if max_tokens else quarter


def exchanges_to_drop(count: Callable[[int], int | None], most: int, budget: int) -> int:
    """How many of the oldest exchanges to drop so the prompt fits `budget`.

    `count(k)`: the prompt's tokens with k exchanges dropped (None: it does
    not fit at all), non-increasing in k; at most `most` can go (the newest
    exchange always stays). None are dropped when the prompt fits. Otherwise,
    as llama.cpp's context shift does, enough go that the history takes at
    most half the budget, so the next turns find it cached instead of
    re-reading all of it after dropping one more exchange each turn; when even
    that cannot be reached, the fewest that fit the budget; when nothing fits,
    all `most` (the caller then refuses the message if it alone does not fit).
    """

    def fits(k: int, limit: int) -> bool:
        n = count(k)
        return n is not None and n <= limit

    if fits(0, budget) or most == 0:
        return 0
    for limit in (budget // 2, budget):
        if fits(most, limit):
            lo, hi = 1, most  # the smallest k in [lo, hi] that fits: it exists (hi does)
            while lo < hi:
                mid = (lo + hi) // 2
                if fits(mid, limit):
                    hi = mid
                else:
                    lo = mid + 1
            return lo
    return most
