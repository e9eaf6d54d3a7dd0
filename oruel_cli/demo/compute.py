"""The numbers behind `params explain --demo`, from the engine's own sampler stages.

Given the model's raw next-token logits, each value's picture comes from
`chain_stages` (what generation runs between the grammar and the draw)
applied to those logits by llama.cpp itself: the stages before the one in
question give the distribution "before", that stage gives "after". Only the
probabilities are computed here (a softmax over what survives, which is what
the seeded draw samples from); no cut is re-implemented.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from ..engine.bindings import lc
from ..engine.sampling import apply_stages, chain_stages
from ..params.model import GenerationParams

# The stages in chain order; the demo of one applies those before it, then it.
ORDER = ("logit_bias", "penalties", "temperature", "top_k", "top_p", "min_p")
CUT_TEMPERATURE = 1.0  # a cut is shown after this temperature when the effective one is 0


@dataclass
class Row:
    id: int
    text: str
    p_before: float
    p_after: float
    kept: bool


@dataclass
class Picture:
    """One value's distribution: its rows (the most probable tokens before the
    stage), how many tokens survive, and what they weighed before."""

    value: Any
    stage: str | None  # the stage that ran: "top_k", "greedy", ... None when the value is off
    before: list[str]  # the stages applied before it, as "temperature 0.7"
    rows: list[Row]
    kept: int
    kept_mass: float  # the probability (before) of the tokens kept
    before_kept: int  # tokens left by the stages before (all, unless the user cuts earlier)
    selected: int | None = None  # the token greedy picks
    n_vocab: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def softmax(candidates: list[tuple[int, float]]) -> dict[int, float]:
    """Probabilities of the candidates left, as the draw sees them."""
    finite = [(i, x) for i, x in candidates if x != -math.inf]
    if not finite:
        return {}
    top = max(x for _, x in finite)
    weights = [(i, math.exp(x - top)) for i, x in finite]
    total = sum(w for _, w in weights)
    return {i: w / total for i, w in weights}


@contextmanager
def stages_of(
    params: GenerationParams, n_vocab: int, window: int
) -> Iterator[list[tuple[str, Any]]]:
    """`chain_stages` for these parameters, freed afterwards (no chain owns them)."""
    stages = chain_stages(params, n_vocab, window)
    try:
        yield stages
    finally:
        for _, s in stages:
            lc.llama_sampler_free(s)


def stage_label(name: str, params: GenerationParams) -> str:
    if name == "penalties":
        return penalty_text(params)
    if name == "greedy":
        return "temperature 0 (greedy)"
    if name == "logit_bias":
        return "logit_bias " + " ".join(f"{k}={v:g}" for k, v in params.logit_bias.items())
    return f"{name} {_num(getattr(params, name))}"


def cut_params(params: GenerationParams) -> GenerationParams:
    """At temperature 0 generation runs the greedy sampler and no cut at all;
    a cut's demo then shows it after temperature 1.0, the model's own
    distribution."""
    if params.temperature == 0:
        return params.model_copy(update={"temperature": CUT_TEMPERATURE})
    return params


def distribution(
    logits: list[float],
    name: str,
    params: GenerationParams,
    text: Callable[[int], str],
    rows: int = 12,
    also: tuple[int, ...] = (),
) -> Picture:
    """The picture of `name` (temperature, top_k, top_p, min_p) at `params`:
    the stages before it applied to the logits, then it."""
    n_vocab = len(logits)
    with stages_of(params, n_vocab, window=1) as stages:
        here = ORDER.index(name)
        target = "greedy" if name == "temperature" and params.temperature == 0 else name
        before = [(n, s) for n, s in stages if n != "greedy" and ORDER.index(n) < here]
        own = [(n, s) for n, s in stages if n == target]
        snaps = apply_stages([s for _, s in before + own], logits)
        labels = [stage_label(n, params) for n, _ in before]
    p_before = softmax(snaps[len(before)].candidates)
    after = snaps[-1]
    if after.selected is not None:  # greedy: the draw is the argmax, with certainty
        p_after = {after.selected: 1.0}
    else:
        p_after = softmax(after.candidates)
    top = sorted(p_before, key=lambda i: (-p_before[i], i))[:rows]
    top += [i for i in also if i not in top and i in p_before]  # e.g. the tokens biased
    return Picture(
        value=getattr(params, name),
        stage=own[0][0] if own else None,
        before=labels,
        rows=[Row(i, text(i), p_before[i], p_after.get(i, 0.0), i in p_after) for i in top],
        kept=len(p_after),
        before_kept=len(p_before),
        kept_mass=sum(p_before.get(i, 0.0) for i in p_after),
        selected=after.selected,
        n_vocab=n_vocab,
    )


@dataclass
class PenaltyRow:
    id: int
    text: str
    count: int  # times it appears in the generated prefix
    logit_before: float
    logit_after: float
    formula: str  # the arithmetic, with this token's numbers
    p_before: float
    p_after: float


@dataclass
class PenaltyPicture:
    value: Any
    params: dict[str, float]  # the three penalties in effect
    rows: list[PenaltyRow]
    next_before: int  # the greedy next token without penalties, and with them
    next_after: int
    next_before_text: str = ""
    next_after_text: str = ""
    moved: int = 0  # tokens whose logit changed
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def penalties(
    logits: list[float],
    prefix: list[int],
    params: GenerationParams,
    text: Callable[[int], str],
    rows: int | None = None,
) -> PenaltyPicture:
    """The penalties stage after the prefix was generated: the prefix tokens are
    accepted into it (as generation accepts each drawn token), then it is
    applied alone to the logits that follow the prefix."""
    n_vocab = len(logits)
    with stages_of(params, n_vocab, window=max(len(prefix), 1)) as stages:
        stage = dict(stages).get("penalties")
        if stage is None:  # every penalty at its neutral value: nothing moves
            after = list(logits)
        else:
            for token in prefix:
                lc.llama_sampler_accept(stage, token)
            after = [0.0] * n_vocab
            for i, x in apply_stages([stage], logits)[-1].candidates:
                after[i] = x
    counts = Counter(prefix)
    p0 = softmax(list(enumerate(logits)))
    p1 = softmax(list(enumerate(after)))
    order = sorted(counts, key=lambda i: (-counts[i], -logits[i], i))
    out = [
        PenaltyRow(
            id=i,
            text=text(i),
            count=counts[i],
            logit_before=logits[i],
            logit_after=after[i],
            formula=formula(logits[i], counts[i], params, after[i]),
            p_before=p0.get(i, 0.0),
            p_after=p1.get(i, 0.0),
        )
        for i in (order if rows is None else order[:rows])
    ]
    nb = max(range(n_vocab), key=lambda i: logits[i])
    na = max(range(n_vocab), key=lambda i: after[i])
    return PenaltyPicture(
        value=None,
        params=_penalty_values(params),
        rows=out,
        next_before=nb,
        next_after=na,
        next_before_text=text(nb),
        next_after_text=text(na),
        moved=sum(1 for i in range(n_vocab) if after[i] != logits[i]),
    )


def _penalty_values(params: GenerationParams) -> dict[str, float]:
    return {
        "frequency_penalty": params.frequency_penalty,
        "presence_penalty": params.presence_penalty,
        "repetition_penalty": params.repetition_penalty,
    }


def penalty_text(params: GenerationParams) -> str:
    parts = [f"{k} {_num(v)}" for k, v in _penalty_values(params).items()]
    return "penalties (" + ", ".join(parts) + ")"


def formula(x: float, count: int, params: GenerationParams, result: float) -> str:
    """The arithmetic the penalties apply to one logit, as text:
    repetition first (a positive logit divided by it, a negative one
    multiplied), then − count × frequency, then − presence (the token is there)."""
    rep, freq, pres = params.repetition_penalty, params.frequency_penalty, params.presence_penalty
    expr = f"{x:.2f}"
    if rep != 1:
        expr = f"{expr} / {_num(rep)}" if x > 0 else f"{expr} × {_num(rep)}"
    if freq:
        expr += f" − {count}×{_num(freq)}" if freq > 0 else f" + {count}×{_num(-freq)}"
    if pres:
        expr += f" − {_num(pres)}" if pres > 0 else f" + {_num(-pres)}"
    return f"{expr} = {result:.2f}"


def _num(v: float) -> str:
    return f"{v:g}"
