"""Where the wall time of `oruel run --parallel 8` goes, on batch_speed.py's job.

Runs the real command in this process (its `main()`, the same 32 prompts,
max_tokens 128, temperature 0.7) with timers wrapped around the engine's calls
into llama.cpp, and prints the split:

- start-up: from the first line of `main()` to the first decode (imports, the
  model load, the input read and checked);
- decode: `llama_decode`, split into steps that carry prompt tokens and steps
  of generation only;
- sampling: `llama_sampler_sample` (the sampler chain, in llama.cpp);
- detokenizing and stop matching: the engine's per-token reading of text;
- the rest of the step loop: Python bookkeeping (batch filling, events,
  the driver's handles);
- after the last decode: writing records, closing.

With `--server`, the same job goes through llama-server -np 8 (warm) and its
own timings (`prompt_ms`, `predicted_ms` per request) are summed beside it.
The figures are per step and in total; the timers cost ~1 us a call.

    .venv/bin/python benchmarks/batch_profile.py [--threads 2] [--server] [--flash-attn on]

Measured on an AMD EPYC host, 2 threads, one run each in the same quarter hour:

    part                           --flash-attn auto (off)   --flash-attn on
    whole run                      3859 tok, 27.43 s, 140.7  3792 tok, 23.82 s, 159.2
    start-up to the first decode   0.57 s (2.1%)             0.57 s (2.4%)
    decode, steps with prompt      2.33 s, 8 steps           2.13 s, 10 steps
    decode, generation-only steps  22.62 s, 508 x 44.5 ms    19.24 s, 506 x 38.0 ms
    draws (llama_sampler_sample)   1.67 s, 434 us a token    1.63 s, 431 us
    all of oruel's own Python      0.6%                      0.6%
    llama-server -np 8, same job   151.6 tok/s (3792 tokens: its numerics are flash attention's)

So decode is the whole game, and flash attention is most of the gap to the
server: with it oruel's steady state matches llama-server's, and the start-up
(~2%; creating the 8 x 4096-cell context takes 0.38 s of it, 0.05 s at 8 x 512)
is what a whole process gives away against a warm server. Levers tried and not kept:

- the draws of a step on two threads: no gain with libgomp's default idle
  spin (after a decode the other OpenMP thread spins on the second core for
  ~ms: summed draw time rose 1.66 -> 2.29 s); with GOMP_SPINCOUNT=1000 the
  post-decode phase fell from 3.44 to 2.09 ms a step but the decodes slowed
  (38 -> 40-45 ms), a net loss (4 runs each way);
- a float32 V cache with flash attention on (its accumulator is then f32, not
  f16): llama-batched-bench S_TG 181 against 188 (f16) and 163 (off) at 8
  sequences, but greedy replies still differ from the non-flash path at
  near-ties (serve's reply to the reference prompt differs from `oruel ask`
  after three words), so it cannot be the default either;
- drawing with numpy instead of llama.cpp (549 us a draw, no faster).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import batch_speed  # noqa: E402
import common  # noqa: E402


class Timers:
    """Seconds and calls per named part; `wrap` times one function."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.first_decode: float | None = None
        self.last_decode_end = 0.0

    def add(self, name: str, t0: float) -> float:
        t1 = time.perf_counter()
        self.seconds[name] += t1 - t0
        self.calls[name] += 1
        return t1


def instrument(timers: Timers) -> None:
    """Wrap the engine's calls into llama.cpp and its per-token text reading."""
    from oruel_cli.engine import engine as eng

    lc = eng.lc
    decode, sample = eng.Engine._decode, lc.llama_sampler_sample
    on_token, step = eng.Engine._on_token, eng.Engine.step

    def timed_decode(self):  # noqa: ANN001, ANN202
        decoding = sum(1 for s in self.slots if s.req is not None and not s.pending)
        kind = (
            "decode: generation only" if self.batch.n_tokens <= decoding else "decode: with prompt"
        )
        t0 = time.perf_counter()
        if timers.first_decode is None:
            timers.first_decode = t0
        rc = decode(self)
        timers.last_decode_end = timers.add(kind, t0)
        timers.calls["tokens in " + kind] += self.batch.n_tokens - 1
        return rc

    def timed_sample(*args):  # noqa: ANN002, ANN202
        t0 = time.perf_counter()
        token = sample(*args)
        timers.add("sampling", t0)
        return token

    def timed_on_token(self, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        out = on_token(self, *args, **kw)
        timers.add("token: detokenize, stops, events", t0)
        return out

    def timed_step(self, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        out = step(self, *args, **kw)
        timers.add("step (whole)", t0)
        return out

    eng.Engine._decode = timed_decode
    lc.llama_sampler_sample = timed_sample
    eng.Engine._on_token = timed_on_token
    eng.Engine.step = timed_step


def profile_oruel(
    job: Path, out: Path, threads: int, flash_attn: str = "auto"
) -> tuple[Timers, float, int]:
    from oruel_cli.cli.main import main

    timers = Timers()
    instrument(timers)
    sys.argv = [
        "oruel", "run", str(job), "-o", str(out), "--overwrite", "--parallel", "8",
        "--max-tokens", str(batch_speed.MAX_TOKENS), "--temperature",
        str(batch_speed.TEMPERATURE), "--threads", str(threads), "--flash-attn", flash_attn,
        *common.repack_setting("auto").oruel_args(),
    ]  # fmt: skip
    t0 = time.perf_counter()
    try:
        main()
    except SystemExit as e:
        if e.code not in (0, None):
            sys.exit(f"oruel run failed (exit {e.code})")
    wall = time.perf_counter() - t0
    tokens = sum(json.loads(line)["usage"]["completion_tokens"] for line in out.open())
    timers.seconds["start-up (to the first decode)"] = (timers.first_decode or t0) - t0
    timers.seconds["after the last decode"] = t0 + wall - timers.last_decode_end
    return timers, wall, tokens


def report(timers: Timers, wall: float, tokens: int, flags: str) -> None:
    s, c = timers.seconds, timers.calls
    decode = s["decode: with prompt"] + s["decode: generation only"]
    inner = decode + s["sampling"] + s["token: detokenize, stops, events"]
    loop = s["step (whole)"] - inner  # the step's own Python
    outside = wall - s["start-up (to the first decode)"] - s["after the last decode"]
    outside -= s["step (whole)"]  # the driver around the steps
    rows = [
        ("start-up (to the first decode)", s["start-up (to the first decode)"], None),
        ("decode: with prompt", s["decode: with prompt"], c["decode: with prompt"]),
        ("decode: generation only", s["decode: generation only"], c["decode: generation only"]),
        ("sampling (llama_sampler_sample)", s["sampling"], c["sampling"]),
        ("token: detokenize, stops, events", s["token: detokenize, stops, events"], c["sampling"]),
        ("step's own Python (batch filling, admit)", loop, c["step (whole)"]),
        ("driver around the steps (handles, sinks)", outside, c["step (whole)"]),
        ("after the last decode (records, close)", s["after the last decode"], None),
    ]
    print(
        f"oruel run --parallel 8 {flags}: {tokens} tokens in {wall:.2f} s = {tokens / wall:.1f} tok/s"
    )
    print(f"  {'part':44} {'seconds':>8} {'share':>6} {'calls':>6} {'us/call':>8}")
    for name, sec, n in rows:
        per = f"{sec / n * 1e6:8.0f}" if n else " " * 8
        print(f"  {name:44} {sec:8.3f} {sec / wall:6.1%} {n or '':>6} {per}")
    steps = c["decode: with prompt"] + c["decode: generation only"]
    print(f"  steps {steps}; mean tokens/step in generation-only steps "
          f"{(c['tokens in decode: generation only'] + c['decode: generation only']) / max(1, c['decode: generation only']):.2f}")  # fmt: skip  # noqa: E501


def profile_server(job_prompts: list[str], threads: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    repack = common.repack_setting("auto")
    server = batch_speed.Server(threads, repack)
    try:
        import urllib.request

        def one(i: int) -> dict:
            body = json.dumps(server.body(i, job_prompts[i], explicit_off=True)).encode()
            req = urllib.request.Request(
                f"{server.url}/v1/chat/completions", body, {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(req, timeout=600) as r:
                return json.loads(r.read())

        t0 = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(one, range(len(job_prompts))))
        wall = time.perf_counter() - t0
    finally:
        server.close()
    tokens = sum(r["usage"]["completion_tokens"] for r in replies)
    prompt_ms = sum(r.get("timings", {}).get("prompt_ms", 0) for r in replies)
    gen_ms = sum(r.get("timings", {}).get("predicted_ms", 0) for r in replies)
    print(f"llama-server -np 8 (warm): {tokens} tokens in {wall:.2f} s = {tokens / wall:.1f} tok/s")
    print(f"  summed per-request timings: prompt {prompt_ms / 1000:.2f} s, "
          f"generation {gen_ms / 1000:.2f} s (8 requests overlap: sums exceed the wall)")  # fmt: skip


def main() -> None:
    from oruel_cli.runtime import FLASH_ATTN_CHOICES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--server", action="store_true", help="also llama-server's own timings")
    ap.add_argument("--flash-attn", choices=FLASH_ATTN_CHOICES, default="auto",
                    help="oruel's --flash-attn (llama-server runs llama.cpp's auto: on)")  # fmt: skip
    args = ap.parse_args()
    print(common.describe_host())
    with tempfile.TemporaryDirectory() as tmp:
        job = batch_speed.write_job(Path(tmp))
        if args.server:
            profile_server(batch_speed.prompts(), args.threads)
        timers, wall, tokens = profile_oruel(
            job, Path(tmp) / "out.jsonl", args.threads, args.flash_attn
        )
    report(timers, wall, tokens, f"--flash-attn {args.flash_attn}")


if __name__ == "__main__":
    main()
