"""`oruel bench`: prompt and decode speed on this machine, single stream and batched."""

import time
from typing import Annotated

import typer

from ..common import complete
from ..common.options import (
    INTEGER,
    MODEL,
    CommonOptions,
    Ctx,
    FlashAttn,
    GpuLayers,
    Repack,
    Threads,
    Verbose,
)

BATCH_SIZES = (1, 4, 8, 16)


def bench(
    model: Annotated[
        str | None,
        typer.Option(
            "-m", "--model", metavar=MODEL, help="Model to measure.", autocompletion=complete.models
        ),
    ] = None,
    ctx: Ctx = None,
    threads: Threads = None,
    gpu_layers: GpuLayers = None,
    repack: Repack = None,
    flash_attn: FlashAttn = None,
    tokens: Annotated[
        int,
        typer.Option(
            "--tokens", metavar=INTEGER, min=8, max=4096, help="Tokens generated per sequence."
        ),
    ] = 128,  # noqa: E501
    prompt_tokens: Annotated[
        int,
        typer.Option(
            "--prompt-tokens",
            metavar=INTEGER,
            min=8,
            max=4096,
            help="Prompt length for the prompt-speed row.",
        ),
    ] = 512,  # noqa: E501
    batched: Annotated[
        bool, typer.Option("--batched/--single", help="Also measure 4, 8 and 16 sequences.")
    ] = True,  # noqa: E501
    verbose: Verbose = False,
) -> None:
    """Measure tokens/s: prompt processing, single-stream decode, batched decode."""
    from rich.table import Table

    from ..config import load_config
    from ..engine.loader import resolve_target
    from ..render import err_console, out_console

    opts = CommonOptions(
        ctx=ctx, threads=threads, gpu_layers=gpu_layers, repack=repack, flash_attn=flash_attn
    )
    config = load_config()
    target = resolve_target(config, model, opts.runtime_flags())
    rt = target.runtime
    err_console().print(
        f"[dim]model {target.path.name} · threads {rt.threads} · "
        f"repack {'on' if rt.repack else 'off'} ({rt.repack_why}) · "
        f"flash attention {rt.flash_attn}[/]",
        highlight=False,
    )
    table = Table(title=f"oruel bench: {target.path.name}, repack {'on' if rt.repack else 'off'}")
    for col in ("test", "sequences", "tokens", "seconds", "tokens/s", "× 1 sequence"):
        table.add_column(col, justify="right")
    ctx_slot = rt.ctx or max(1024, prompt_tokens + tokens + 64)
    from ..backends.local import LocalBackend
    from ..common.command import stop_signals
    from ..engine.loader import load_model
    from ..errors import Interrupted

    with stop_signals() as stop:  # a Ctrl-C inside llama.cpp's log callback would be lost
        model = load_model(target, verbose)
    if stop.requested:
        model.close()
        raise Interrupted()
    with model:
        with LocalBackend(model, target, ctx=ctx_slot, owns_model=False) as one:
            pp_rate = _prompt_speed(one, prompt_tokens)
            single = _decode_speed(one, 1, tokens)
        table.add_row(f"pp{prompt_tokens}", "1", str(prompt_tokens),
                      f"{prompt_tokens / pp_rate:.2f}", f"{pp_rate:.1f}", "")  # fmt: skip
        table.add_row(
            f"tg{tokens}", "1", str(tokens), f"{tokens / single:.2f}", f"{single:.1f}", "1.00"
        )
        for n in BATCH_SIZES[1:] if batched else ():
            ctx = rt.ctx or (tokens + 128)
            with LocalBackend(model, target, n_slots=n, ctx=ctx, owns_model=False) as many:
                rate = _decode_speed(many, n, tokens)
            total = n * tokens
            table.add_row(f"tg{tokens}", str(n), str(total), f"{total / rate:.2f}",
                          f"{rate:.1f}", f"{rate / single:.2f}")  # fmt: skip
    out_console().print(table)


def _prompt_speed(backend, n: int) -> float:  # noqa: ANN001
    """Prompt tokens/s: one fresh prompt of n tokens, decoded in batches."""
    vocab = backend.model.n_vocab
    tokens = [(i * 7919 + 13) % vocab for i in range(n)]

    def timed(engine) -> float:  # noqa: ANN001
        engine.next_token_logits(tokens[:8])  # warm up
        start = time.perf_counter()
        engine.next_token_logits(tokens, reuse=False)
        return n / (time.perf_counter() - start)

    return backend.driver.call(timed)


def _decode_speed(backend, n: int, tokens: int) -> float:  # noqa: ANN001
    """Aggregate generated tokens/s of n sequences decoded together, from the
    moment every one has its first token (the prompt pass excluded)."""
    from ..params.model import GenerationParams

    params = GenerationParams(temperature=0, max_tokens=tokens)
    handles = [
        backend.submit(
            backend.prepare(
                [{"role": "user", "content": f"Tell me story number {i}."}], params, ignore_eog=True
            )
        )  # fmt: skip
        for i in range(n)
    ]
    finishes = [h.wait() for h in handles]
    first = max(f.admitted_at + (f.first_token_seconds or 0.0) for f in finishes)
    end = max(f.admitted_at + f.seconds for f in finishes)
    return sum(f.completion_tokens - 1 for f in finishes) / (end - first)
