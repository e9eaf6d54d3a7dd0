"""Per-token log-probabilities, in OpenAI's shape, from the model's raw logits.

The numbers are the model's own distribution: the log-softmax of the logits
llama.cpp wrote for the slot's row, read before the sampler chain runs, so no
bias, penalty, temperature or cut touches them (a token that top_k removed
still has its probability). Only requests that ask pay for them.

The entries follow the text a user is shown: the incremental detokenizer holds
back a split character and the stop matcher holds back what could begin a stop
string, so a token's entry is released with the first of its bytes that is
shown. The entries of all deltas joined are the whole reply's entries, and
their bytes join to its text; the tokens of a stop string are never released.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Entry = dict[str, Any]  # {"token", "logprob", "bytes", "top_logprobs"}


class Row:
    """One position's distribution: the log-normalizer and the N best tokens."""

    __slots__ = ("logits", "lse", "top")

    def __init__(self, logits: np.ndarray, n_top: int) -> None:
        self.logits = logits  # a view of llama.cpp's row: read before the next decode
        peak = float(logits.max())
        total = np.exp(logits - peak, dtype=np.float32).sum(dtype=np.float64)
        self.lse = peak + float(np.log(total))
        self.top: list[tuple[int, float]] = []
        if n_top:
            idx = _best(logits, peak, n_top)
            self.top = [(int(i), float(logits[i]) - self.lse) for i in idx]

    def logprob(self, token: int) -> float:
        return float(self.logits[token]) - self.lse


def _best(logits: np.ndarray, peak: float, n: int) -> np.ndarray:
    """The ids of the n largest logits, largest first.

    A comparison pass over the vocabulary costs ~20 us here, an argpartition of
    it ~600 us (49k tokens): the tokens near the peak are found by doubling a
    threshold under it, and only they are partitioned and sorted."""
    gap = 2.0
    idx = np.flatnonzero(logits >= peak - gap)
    while len(idx) < n and gap < 1e4:
        gap *= 2
        idx = np.flatnonzero(logits >= peak - gap)
    if len(idx) < n:  # -inf logits: the rest of the vocabulary, as it comes
        idx = np.argpartition(logits, -n)[-n:]
    elif len(idx) > 4 * n:
        idx = idx[np.argpartition(-logits[idx], n - 1)[:n]]
    return idx[np.lexsort((idx, -logits[idx]))][:n]


def row_from_pointer(ptr: Any, n_vocab: int, n_top: int) -> Row:
    """A Row over the float array llama_get_logits_ith returned (no copy)."""
    return Row(np.ctypeslib.as_array(ptr, shape=(n_vocab,)), n_top)


def entry(token: int, row: Row, piece: Callable[[int], bytes]) -> Entry:
    """OpenAI's logprobs.content[] item for the token drawn at this row."""
    raw = piece(token)
    return {
        "token": raw.decode("utf-8", "replace"),
        "logprob": row.logprob(token),
        "bytes": list(raw),
        "top_logprobs": [
            {"token": (b := piece(t)).decode("utf-8", "replace"), "logprob": lp, "bytes": list(b)}
            for t, lp in row.top
        ],
    }


class Tracker:
    """A slot's entries, each released once the first of its bytes is shown."""

    def __init__(self) -> None:
        self.released: list[Entry] = []  # every entry shown so far, in order
        self._pending: list[tuple[int, int, Entry]] = []  # (first byte, end, entry)
        self._fed = 0  # bytes of all pieces so far
        self._shown = 0  # bytes of text shown so far

    def add(self, item: Entry) -> None:
        start = self._fed
        self._fed += len(item["bytes"])
        self._pending.append((start, self._fed, item))

    def show(self, text: str) -> list[Entry]:
        """`text` was just shown: the entries it releases (maybe none)."""
        self._shown += len(text.encode("utf-8"))
        out: list[Entry] = []
        while self._pending:
            start, end, item = self._pending[0]
            if start < self._shown or (start == end and end <= self._shown):
                out.append(item)
                self._pending.pop(0)
            else:
                break
        self.released.extend(out)
        return out
