"""Turning generated tokens into text a user may see: UTF-8 safe, stop strings held back.

Pure logic, no llama.cpp: unit-tested on its own.
"""

from __future__ import annotations

import codecs


class Detokenizer:
    """Bytes of token pieces in, complete UTF-8 text out.

    A character split across tokens (emoji, CJK) is held until it is whole,
    so no broken character is ever emitted.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, piece: bytes) -> str:
        return self._decoder.decode(piece)

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)


class StopMatcher:
    """Finds stop strings in streamed text, also when one spans several tokens.

    `feed` returns the text that is safe to show: text that could still be the
    start of a stop string is held back until it is known not to be one.
    """

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self._held = ""
        self.stopped: str | None = None

    def feed(self, text: str) -> str:
        if self.stopped is not None:
            return ""
        buf = self._held + text
        hits = [(buf.find(s), s) for s in self.stops if s in buf]
        if hits:
            idx, stop = min(hits)
            self.stopped = stop
            self._held = ""
            return buf[:idx]
        keep = self._partial_len(buf)
        self._held = buf[len(buf) - keep :] if keep else ""
        return buf[: len(buf) - keep]

    def flush(self) -> str:
        """At the end of generation the held text is real text: release it."""
        held, self._held = self._held, ""
        return held

    def _partial_len(self, buf: str) -> int:
        """Length of the longest suffix of buf that is a proper prefix of a stop."""
        best = 0
        for s in self.stops:
            for n in range(min(len(s) - 1, len(buf)), best, -1):
                if buf.endswith(s[:n]):
                    best = n
                    break
        return best
