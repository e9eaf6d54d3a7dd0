"""GenerationParams -> a native llama.cpp sampler chain, in this fixed order:

    grammar -> logit_bias -> penalties -> temperature -> top_k -> top_p -> min_p -> seeded draw

Every stage that is not set is left out, so no library default (top_k 40,
min_p 0.05) can leak in. Temperature 0 is the greedy sampler, whatever the seed.
The bias comes before the penalties, as in llama.cpp's own servers, and after
the grammar (which must stay first: see build_chain).
"""

from __future__ import annotations

import ctypes
import math
import os
from dataclasses import dataclass

from ..errors import RuntimeFailure
from ..params.model import GenerationParams
from .bindings import lc

SEED_MODULUS = 2**32 - 1  # llama.cpp treats 0xFFFFFFFF as "random": never produce it


def reduce_seed(seed: int | None) -> int:
    """The 32-bit seed llama.cpp gets: seed mod (2^32 - 1); a fresh one when unset."""
    if seed is None:
        return int.from_bytes(os.urandom(4), "little") % SEED_MODULUS
    return seed % SEED_MODULUS


@dataclass
class Grammar:
    """A GBNF grammar for the head of the chain; lazy ones wait for a trigger."""

    gbnf: str
    lazy_trigger: str | None = None  # e.g. "<tool_call>": constrain from there on


def build_chain(
    params: GenerationParams,
    vocab: lc.llama_vocab_p,
    n_vocab: int,
    penalty_window: int,
    grammar: Grammar | None = None,
) -> lc.llama_sampler_p:
    """A fresh chain for one request; free it with `lc.llama_sampler_free`."""
    chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
    if grammar is not None:
        lc.llama_sampler_chain_add(chain, _grammar_sampler(grammar, vocab, chain))
    for _, stage in chain_stages(params, n_vocab, penalty_window):
        lc.llama_sampler_chain_add(chain, stage)  # the chain owns and frees its stages
    if params.temperature != 0:
        lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_dist(reduce_seed(params.seed)))
    return chain


def chain_stages(
    params: GenerationParams, n_vocab: int, penalty_window: int
) -> list[tuple[str, lc.llama_sampler_p]]:
    """The named stages between the grammar and the draw, in order: what
    generation runs, and what the --demo applies one at a time to known logits.
    Temperature 0 ends the list with the greedy sampler (no draw follows)."""
    stages: list[tuple[str, lc.llama_sampler_p]] = []
    if params.logit_bias:
        stages.append(("logit_bias", _bias_sampler(params.logit_bias, n_vocab)))
    freq, pres, rep = params.frequency_penalty, params.presence_penalty, params.repetition_penalty
    if freq != 0 or pres != 0 or rep != 1:
        # Only generated tokens are ever accepted into the chain, so the window
        # (as long as the context) counts exactly "what appeared in the output".
        pen = lc.llama_sampler_init_penalties(n_vocab, penalty_window, rep, freq, pres)
        stages.append(("penalties", pen))
    if params.temperature == 0:
        stages.append(("greedy", lc.llama_sampler_init_greedy()))
        return stages
    stages.append(("temperature", lc.llama_sampler_init_temp(params.temperature)))
    if params.top_k:
        stages.append(("top_k", lc.llama_sampler_init_top_k(params.top_k)))
    if params.top_p < 1.0:
        stages.append(("top_p", lc.llama_sampler_init_top_p(params.top_p, 1)))
    if params.min_p:
        stages.append(("min_p", lc.llama_sampler_init_min_p(params.min_p, 1)))
    return stages


def bias_value(bias: float) -> float:
    """What is added to a logit: -100 (OpenAI's "ban") is minus infinity, so the
    token is never drawn, whatever the temperature."""
    return -math.inf if bias <= -100 else float(bias)


def _bias_sampler(bias: dict[str, int | float], n_vocab: int) -> lc.llama_sampler_p:
    items = [(int(k), v) for k, v in bias.items() if int(k) < n_vocab]
    arr = (lc.llama_logit_bias * len(items))()
    for i, (token, value) in enumerate(items):
        arr[i].token, arr[i].bias = token, bias_value(value)
    return lc.llama_sampler_init_logit_bias(n_vocab, len(items), arr)


def _grammar_sampler(
    grammar: Grammar, vocab: lc.llama_vocab_p, chain: lc.llama_sampler_p
) -> lc.llama_sampler_p:
    text = grammar.gbnf.encode("utf-8")
    if grammar.lazy_trigger is None:
        smpl = lc.llama_sampler_init_grammar(vocab, text, b"root")
    else:
        import re

        pattern = r"[\s\S]*?(" + re.escape(grammar.lazy_trigger) + r")[\s\S]*"
        patterns = (ctypes.c_char_p * 1)(pattern.encode("utf-8"))
        smpl = lc.llama_sampler_init_grammar_lazy_patterns(
            vocab, text, b"root", patterns, 1, None, 0
        )
    if not smpl:
        lc.llama_sampler_free(chain)
        raise RuntimeFailure("llama.cpp refused the grammar built for this request")
    return smpl


def check_grammar(grammar: Grammar, vocab: lc.llama_vocab_p) -> None:
    """Parse a grammar once, before its request is queued, so a grammar llama.cpp
    refuses fails that request alone, not the engine step it would start in."""
    chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
    lc.llama_sampler_chain_add(chain, _grammar_sampler(grammar, vocab, chain))
    lc.llama_sampler_free(chain)


def apply_chain(chain: lc.llama_sampler_p, logits: list[float]) -> list[tuple[int, float]]:
    """Run a chain's transformations over known logits (for tests and the --demo).

    Returns (token id, logit) for every candidate left, in the chain's order.
    """
    return apply_stages([chain], logits)[-1].candidates


@dataclass
class Candidates:
    """The candidate array after some stages: survivors and the token picked, if any."""

    candidates: list[tuple[int, float]]  # (token id, logit), in the array's order
    selected: int | None  # the token a stage chose (greedy), else None


def apply_stages(stages: list[lc.llama_sampler_p], logits: list[float]) -> list[Candidates]:
    """Apply samplers one after another to one candidate array built from known
    logits, as a chain would: the array before any stage, then after each one.

    The --demo reads what each of generation's own stages keeps this way, so
    what it draws is llama.cpp's cut, not a copy of it.
    """
    n = len(logits)
    data = (lc.llama_token_data * n)()
    for i, x in enumerate(logits):
        data[i].id, data[i].logit, data[i].p = i, x, 0.0
    arr = lc.llama_token_data_array(data=data, size=n, selected=-1, sorted=False)

    def snapshot() -> Candidates:
        chosen = arr.data[arr.selected].id if 0 <= arr.selected < arr.size else None
        return Candidates([(arr.data[i].id, arr.data[i].logit) for i in range(arr.size)], chosen)

    out = [snapshot()]
    for stage in stages:
        lc.llama_sampler_apply(stage, ctypes.byref(arr))
        out.append(snapshot())
    return out
