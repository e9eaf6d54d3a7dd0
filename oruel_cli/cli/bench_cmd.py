"""`oruel bench`: prompt and decode speed on this machine, single stream and batched."""

import time
from typing import Annotated

import typer

from .options import CommonOptions

BATCH_SIZES = (1, 4, 8, 16)


def bench(
    model: Annotated[str | None, typer.Option("-m", "--model", help="Model to measure.")] = None,
    ctx: Annotated[str | None, typer.Option("--ctx", help="Context per sequence.")] = None,
    threads: Annotated[str | None, typer.Option("--threads", help="CPU threads.")] = None,
    gpu_layers: Annotated[str | None, typer.Option("--gpu-layers", help="GPU layers.")] = None,
    repack: Annotated[str | None, typer.Option("--repack", help="auto, on or off.")] = None,
    tokens: Annotated[
        int, typer.Option("--tokens", min=8, max=4096, help="Tokens generated per sequence.")
    ] = 128,  # noqa: E501
    prompt_tokens: Annotated[
        int,
        typer.Option(
            "--prompt-tokens", min=8, max=4096, help="Prompt length for the prompt-speed row."
        ),
    ] = 512,  # noqa: E501
    batched: Annotated[
        bool, typer.Option("--batched/--single", help="Also measure 4, 8 and 16 sequences.")
    ] = True,  # noqa: E501
) -> None:
    """Measure tokens/s: prompt processing, single-stream decode, batched decode."""
    from rich.table import Table

    from ..config import load_config
    from ..engine.loader import open_engine, resolve_target
    from ..render import err_console, out_console

    opts = CommonOptions(ctx=ctx, threads=threads, gpu_layers=gpu_layers, repack=repack)
    config = load_config()
    target = resolve_target(config, model, opts.runtime_flags())
    rt = target.runtime
    err_console().print(
        f"[dim]model {target.path.name} · threads {rt.threads} · "
        f"repack {'on' if rt.repack else 'off'} ({rt.repack_why}) · "
        f"flash attention {'auto' if rt.flash_attn else 'off'}[/]",
        highlight=False,
    )
    table = Table(title=f"oruel bench: {target.path.name}, repack {'on' if rt.repack else 'off'}")
    for col in ("test", "sequences", "tokens", "seconds", "tokens/s", "× 1 sequence"):
        table.add_column(col, justify="right")
    ctx_slot = rt.ctx or max(1024, prompt_tokens + tokens + 64)
    engine = open_engine(target, 1, ctx_slot)
    pp_rate = _prompt_speed(engine, prompt_tokens)
    table.add_row(f"pp{prompt_tokens}", "1", str(prompt_tokens), f"{prompt_tokens / pp_rate:.2f}",
                  f"{pp_rate:.1f}", "")  # fmt: skip
    single = _decode_speed(engine, 1, tokens)
    engine.close()
    table.add_row(
        f"tg{tokens}", "1", str(tokens), f"{tokens / single:.2f}", f"{single:.1f}", "1.00"
    )
    for n in BATCH_SIZES[1:] if batched else ():
        eng = open_engine(target, n, rt.ctx or (tokens + 128))
        rate = _decode_speed(eng, n, tokens)
        eng.close()
        total = n * tokens
        table.add_row(f"tg{tokens}", str(n), str(total), f"{total / rate:.2f}", f"{rate:.1f}",
                      f"{rate / single:.2f}")  # fmt: skip
    out_console().print(table)


def _prompt_speed(engine, n: int) -> float:  # noqa: ANN001
    """Prompt tokens/s: one fresh prompt of n tokens, decoded in batches."""
    vocab = engine.model.n_vocab
    tokens = [(i * 7919 + 13) % vocab for i in range(n)]
    engine.next_token_logits(tokens[:8])  # warm up
    engine.slots[0].cached = []
    start = time.perf_counter()
    engine.next_token_logits(tokens)
    return n / (time.perf_counter() - start)


def _decode_speed(engine, n: int, tokens: int) -> float:  # noqa: ANN001
    """Aggregate generated tokens/s of n sequences decoded together (prompt excluded)."""
    from ..engine.completion import Prompter
    from ..engine.engine import Finish
    from ..params.model import GenerationParams

    prompter = Prompter(engine.model)
    params = GenerationParams(temperature=0, max_tokens=tokens)
    for i in range(n):
        req = prompter.request([{"role": "user", "content": f"Tell me story number {i}."}], params)
        req.ignore_eog = True
        engine.submit(req)
    first_token_at = None
    done = 0
    while engine.busy:
        for ev in engine.step():
            if isinstance(ev, Finish):
                done += ev.completion_tokens
        if first_token_at is None and all(s.n_gen > 0 or s.req is None for s in engine.slots):
            first_token_at, done_at_start = time.perf_counter(), n
    elapsed = time.perf_counter() - first_token_at
    return (done - done_at_start) / elapsed
