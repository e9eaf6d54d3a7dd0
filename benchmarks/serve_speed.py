"""Server throughput: `oruel serve --parallel 8` against `llama-server -np 8`.

Side by side in one run, both warm, on the same model and threads: the same 32
requests (batch_speed.py's prompts, max_tokens 128, temperature 0.7, a seed
each) fed 8 at a time over loopback. llama-server gets `cache_prompt: false`
and `top_k: 0, top_p: 1, min_p: 0` (the sampling work oruel does: it leaves
those off), and a second time with its own defaults (top_k 40, min_p 0.05)
for the ratio beside. llama-server runs llama.cpp's default flash attention
(auto: on, on the CPU); oruel serve runs its own default (off on the CPU) and
again with `--flash-attn on`. oruel serve gets the same body without `cache_prompt`
(a llama-server field it refuses); top_k 0, top_p 1 and min_p 0 are off
there too. Each figure is aggregate completion tokens/s, the median of
--runs interleaved runs, with the repack setting it ran under.

    .venv/bin/python benchmarks/serve_speed.py [--runs 3] [--threads 2]
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import batch_speed  # noqa: E402
import common  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(server: batch_speed.Server, explicit_off: bool, cpu: list[float]) -> float:
    """One job's tokens/s; its server's CPU milliseconds per token go to `cpu`
    (a figure the other load on a shared machine moves less than the wall time)."""
    before = cpu_seconds(server.proc.pid)
    rate = server.job(explicit_off)
    cpu.append(1000 * (cpu_seconds(server.proc.pid) - before) / max(1, server.last_tokens))
    return rate


class OruelServer(batch_speed.Server):
    """`oruel serve` fed exactly as batch_speed.Server feeds llama-server."""

    name = "oruel serve"

    def command(self, threads: int, repack: common.Repack, slots: int) -> list[str]:
        return [
            common.oruel_exe(), "serve", "--model", str(common.model_path()),
            "--parallel", str(slots), "--threads", str(threads), "--port", str(self.port),
            *repack.oruel_args(), *self.extra,
        ]  # fmt: skip

    def body(self, i: int, prompt: str, explicit_off: bool) -> dict:
        body = super().body(i, prompt, explicit_off)
        del body["cache_prompt"]
        return body


class OruelServerFlash(OruelServer):
    name = "oruel serve --flash-attn on"
    extra = ("--flash-attn", "on")


def main() -> None:
    args, repack = common.parse_bench_args(common.bench_parser(__doc__, 3))
    print(common.describe_host())
    print(
        f"32 requests, 8 in flight, max_tokens {batch_speed.MAX_TOKENS}, temperature "
        f"{batch_speed.TEMPERATURE}, threads {args.threads}, {repack.label}, median of {args.runs}"
    )
    oruel, oruel_fa, srv, srv_default = [], [], [], []
    cpu: dict[str, list[float]] = {"oruel": [], "oruel_fa": [], "srv": [], "srv_default": []}
    # All stay up and warm; an idle one uses no CPU.
    servers = {"oruel": OruelServer(args.threads, repack), "oruel_fa": None, "llama": None}

    def stop(*_: object) -> None:  # a SIGTERM mid-job: no server is left behind
        for s in servers.values():
            if s is not None:
                s.proc.kill()
        os._exit(143)

    signal.signal(signal.SIGTERM, stop)
    try:
        servers["oruel_fa"] = OruelServerFlash(args.threads, repack)
        servers["llama"] = batch_speed.Server(args.threads, repack)
        for s in servers.values():
            s.job(True)  # warm-up
        for i in range(args.runs):  # interleaved, in turns, so load changes hit all alike
            turns = [
                lambda: oruel.append(measured(servers["oruel"], True, cpu["oruel"])),
                lambda: oruel_fa.append(measured(servers["oruel_fa"], True, cpu["oruel_fa"])),
                lambda: srv.append(measured(servers["llama"], True, cpu["srv"])),
                lambda: srv_default.append(measured(servers["llama"], False, cpu["srv_default"])),
            ]
            for turn in turns if i % 2 == 0 else turns[::-1]:
                turn()
            print(
                f"  run: oruel serve {oruel[-1]:.1f}, with --flash-attn on {oruel_fa[-1]:.1f}, "
                f"llama-server {srv[-1]:.1f}, "
                f"llama-server defaults {srv_default[-1]:.1f} tok/s",
                flush=True,
            )
    finally:
        for s in servers.values():
            if s is not None:
                s.close()

    m = {k: statistics.median(v) for k, v in
         {"oruel": oruel, "oruel_fa": oruel_fa, "srv": srv,
          "srv_default": srv_default}.items()}  # fmt: skip
    label = repack.label
    rows = [
        common.Row("llama-server -np 8, top_k/top_p/min_p off", m["srv"], "tok/s", None, label),
        common.Row("oruel serve --parallel 8", m["oruel"], "tok/s", m["oruel"] / m["srv"], label),
        common.Row("oruel serve --parallel 8 --flash-attn on", m["oruel_fa"], "tok/s",
                   m["oruel_fa"] / m["srv"], label),
        common.Row("llama-server -np 8, its own defaults", m["srv_default"], "tok/s",
                   m["srv_default"] / m["srv"], label),
    ]  # fmt: skip
    common.print_table("Server throughput (aggregate completion tokens/s)", rows, "vs server")
    print()
    print(f"  oruel serve / llama-server (same sampling):  {m['oruel'] / m['srv']:.3f}x")
    print(f"  oruel serve / llama-server (its defaults):   {m['oruel'] / m['srv_default']:.3f}x")
    print(f"  oruel serve --flash-attn on / llama-server:  {m['oruel_fa'] / m['srv']:.3f}x")
    c = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"  server CPU per token: oruel serve {c['oruel']:.2f} ms (--flash-attn on "
          f"{c['oruel_fa']:.2f} ms), llama-server {c['srv']:.2f} ms (defaults "
          f"{c['srv_default']:.2f} ms): llama-server / oruel {c['srv'] / c['oruel']:.3f}x "
          f"(/ oruel --flash-attn on {c['srv'] / c['oruel_fa']:.3f}x)")  # fmt: skip
    print("  raw:", {k: [round(x, 1) for x in v] for k, v in
                     {"oruel": oruel, "oruel_fa": oruel_fa, "srv": srv,
                      "srv_default": srv_default}.items()})  # fmt: skip
    print()
    print(common.verdict("oruel serve / llama-server -np 8", m["oruel"] / m["srv"], 1.05, True))
    print(common.verdict("oruel serve --flash-attn on / llama-server -np 8",
                         m["oruel_fa"] / m["srv"], 1.05, True))  # fmt: skip
    print(common.GATE.summary())


if __name__ == "__main__":
    main()
