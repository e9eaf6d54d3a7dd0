"""Batch throughput: `oruel run --parallel 8` against llama.cpp's own server.

Side by side in one run : the same 32
prompts, max_tokens 128, temperature 0.7, through

- `oruel run --parallel 8` and `--parallel 1`, whole processes (model load included),
  and `--parallel 8 --flash-attn on` (llama-server and llama-batched-bench run
  with llama.cpp's default, flash attention auto, which the CPU takes as on;
  oruel's auto is off on the CPU: see RuntimeSettings.flash_attn);
- `llama-server -np 8` (warm), fed the same 32 requests 8 at a time over
  loopback, with `cache_prompt: false` and `top_k: 0, top_p: 1, min_p: 0` sent
  (the sampling work oruel does), and again with the server's own defaults;
- a second `llama-server -np 8 -fa off`, fed the same way: oruel's default
  numerics on the CPU, the like-for-like row;
- llama-cpp-python's high-level `create_chat_completion`, one request after another;
- `llama-batched-bench`'s 8-to-1 generation ratio: the hardware's batching ceiling.

Each figure is aggregate completion tokens/s, the median of --runs runs, with
the repack setting it ran under.

    .venv/bin/python benchmarks/batch_speed.py [--runs 3] [--threads 2]
"""

from __future__ import annotations

import json
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

TOPICS = [
    "the history of tea",
    "how volcanoes form",
    "the rules of chess",
    "why the sky is blue",
    "a day in the life of a bee",
    "the invention of the printing press",
    "black holes",
    "how to bake bread",
    "the water cycle",
    "the Roman aqueducts",
    "learning a new language",
    "the life of a lighthouse keeper",
    "photosynthesis",
    "the first moon landing",
    "how vaccines work",
    "a city in the year 2300",
    "the migration of whales",
    "the benefits of walking",
    "how a bicycle works",
    "the origins of jazz",
    "a haunted library",
    "the Great Wall of China",
    "how rainbows form",
    "coral reefs",
    "the invention of paper money",
    "a robot learning to paint",
    "the northern lights",
    "how bridges stay up",
    "the history of the Olympic games",
    "a dragon who fears fire",
    "why cats purr",
    "the discovery of penicillin",
]
KINDS = ["Write a short essay about", "Tell a story about", "Explain to a child", "Describe"]
MAX_TOKENS = 128
TEMPERATURE = 0.7


def prompts() -> list[str]:
    return [f"{KINDS[i % len(KINDS)]} {t}." for i, t in enumerate(TOPICS)]


def write_job(folder: Path) -> Path:
    path = folder / "batch32.jsonl"
    with path.open("w") as f:
        for i, p in enumerate(prompts()):
            f.write(json.dumps({"id": f"b{i}", "prompt": p, "seed": i}) + "\n")
    return path


def oruel_run(
    job: Path, out: Path, parallel: int, threads: int, repack: common.Repack, *extra: str
) -> float:
    """Aggregate completion tokens/s of one whole `oruel run` process."""
    cmd = [
        common.oruel_exe(), "run", str(job), "-o", str(out), "--overwrite",
        "--parallel", str(parallel), "--max-tokens", str(MAX_TOKENS),
        "--temperature", str(TEMPERATURE), "--threads", str(threads), *repack.oruel_args(),
        *extra,
    ]  # fmt: skip
    common.GATE.wait()
    t0 = time.perf_counter()
    common.run_checked(cmd)
    wall = time.perf_counter() - t0
    tokens = sum(json.loads(line)["usage"]["completion_tokens"] for line in out.open())
    return tokens / wall


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """llama-server -np 8 on loopback, started once (warm) for every timed run.

    benchmarks/serve_speed.py runs `oruel serve` through the same class: a
    subclass gives its own `command` and `body`.
    """

    name = "llama-server"
    extra: tuple[str, ...] = ()  # more flags for the server's command (a subclass sets them)

    def __init__(self, threads: int, repack: common.Repack, slots: int = 8) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = self.command(threads, repack, slots)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.close()
        sys.exit(f"error: {self.name} did not become healthy in 120 s")

    def command(self, threads: int, repack: common.Repack, slots: int) -> list[str]:
        return [
            common.tool("llama-server"), "-m", str(common.model_path()), "-np", str(slots),
            "-c", str(4096 * slots), "-t", str(threads), "--port", str(self.port),
            "--host", "127.0.0.1", *repack.tool_args("llama-server"), *self.extra,
        ]  # fmt: skip

    def body(self, i: int, prompt: str, explicit_off: bool) -> dict:
        body = {
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": MAX_TOKENS, "temperature": TEMPERATURE, "seed": i,
            "cache_prompt": False,
        }  # fmt: skip
        if explicit_off:
            body.update(top_k=0, top_p=1.0, min_p=0.0)
        return body

    def ask(self, i: int, prompt: str, explicit_off: bool) -> int:
        req = urllib.request.Request(
            f"{self.url}/v1/chat/completions", json.dumps(self.body(i, prompt, explicit_off)).encode(),
            {"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=600) as r:
            return json.load(r)["usage"]["completion_tokens"]

    def job(self, explicit_off: bool) -> float:
        """The 32 requests, 8 in flight at a time; aggregate completion tokens/s."""
        common.GATE.wait()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            tokens = sum(pool.map(lambda a: self.ask(*a, explicit_off), enumerate(prompts())))
        self.last_tokens = tokens
        return tokens / (time.perf_counter() - t0)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


LCP_SCRIPT = """
import json, sys, time
from llama_cpp import Llama
prompts, threads = json.loads(sys.argv[1]), int(sys.argv[2])
llm = Llama(sys.argv[3], n_ctx=4096, n_threads=threads, verbose=False)
t0 = time.perf_counter(); tokens = 0
for i, p in enumerate(prompts):
    r = llm.create_chat_completion([{"role": "user", "content": p}], max_tokens=int(sys.argv[4]),
                                   temperature=float(sys.argv[5]), seed=i)
    tokens += r["usage"]["completion_tokens"]
print(tokens / (time.perf_counter() - t0))
"""


class ServerNoFlash(Server):
    """llama-server with flash attention off: oruel's default numerics on the CPU,
    so the like-for-like row beside the server's own default (auto: on)."""

    name = "llama-server -fa off"
    extra = ("-fa", "off")


def llama_cpp_python(threads: int, repack: common.Repack) -> float | None:
    """High-level create_chat_completion, one request after another (loop only).

    It cannot turn repacking off, so on AMX hosts (where it would crash) it is skipped.
    """
    if not repack.on:
        return None
    out = common.run_checked(
        [
            common.venv_python(),
            "-c",
            LCP_SCRIPT,
            json.dumps(prompts()),
            str(threads),
            str(common.model_path()),
            str(MAX_TOKENS),
            str(TEMPERATURE),
        ]  # fmt: skip
    )
    return float(out.stdout.strip().splitlines()[-1])


def batched_bench(threads: int, repack: common.Repack) -> dict[int, float]:
    """llama-batched-bench generation tokens/s (S_TG) at 1 and 8 sequences."""
    out = common.run_checked(
        [
            common.tool("llama-batched-bench"),
            "-m",
            str(common.model_path()),
            "-c",
            "8192",
            "-b",
            "2048",
            "-ub",
            "512",
            "-npp",
            "32",
            "-ntg",
            str(MAX_TOKENS),
            "-npl",
            "1,8",
            "-t",
            str(threads),
            *repack.tool_args("llama-batched-bench"),
        ]  # fmt: skip
    )
    rates = {}
    for line in out.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 10 and re.fullmatch(r"\d+", cells[2] or ""):
            rates[int(cells[2])] = float(cells[7])  # PP TG B N_KV T_PP S_PP T_TG S_TG ...
    return rates


def main() -> None:
    args, repack = common.parse_bench_args(common.bench_parser(__doc__, 3))
    print(common.describe_host())
    print(f"32 prompts, max_tokens {MAX_TOKENS}, temperature {TEMPERATURE}, "
          f"threads {args.threads}, {repack.label}, median of {args.runs}")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        job = write_job(Path(tmp))
        out = Path(tmp) / "out.jsonl"
        p8, p8fa, p1, srv, srv_default, srv_off = [], [], [], [], [], []
        server, server_off = Server(args.threads, repack), ServerNoFlash(args.threads, repack)
        try:
            server.job(True)  # warm-up
            server_off.job(True)
            for _ in range(args.runs):  # interleaved, so load changes hit all alike
                p8.append(oruel_run(job, out, 8, args.threads, repack))
                p8fa.append(oruel_run(job, out, 8, args.threads, repack, "--flash-attn", "on"))
                srv.append(server.job(True))
                srv_default.append(server.job(False))
                srv_off.append(server_off.job(True))
                p1.append(oruel_run(job, out, 1, args.threads, repack))
                print(f"  run: oruel p8 {p8[-1]:.1f}, p8 fa {p8fa[-1]:.1f}, server {srv[-1]:.1f}, server defaults "
                      f"{srv_default[-1]:.1f}, server -fa off {srv_off[-1]:.1f}, oruel p1 {p1[-1]:.1f} tok/s", flush=True)  # fmt: skip
        finally:
            server.close()
            server_off.close()
    lcp = llama_cpp_python(args.threads, repack)
    bb = batched_bench(args.threads, repack)

    m = {k: statistics.median(v) for k, v in
         {"p8": p8, "p8fa": p8fa, "p1": p1, "srv": srv, "srv_default": srv_default,
          "srv_off": srv_off}.items()}  # fmt: skip
    label = repack.label
    rows = [
        common.Row("llama-server -np 8, top_k/top_p/min_p off", m["srv"], "tok/s", None, label),
        common.Row("oruel run --parallel 8 (whole process)", m["p8"], "tok/s",
                   m["p8"] / m["srv"], label),
        common.Row("oruel run --parallel 8 --flash-attn on", m["p8fa"], "tok/s",
                   m["p8fa"] / m["srv"], label),
        common.Row("llama-server -np 8, its own defaults", m["srv_default"], "tok/s",
                   m["srv_default"] / m["srv"], label),
        common.Row("llama-server -np 8 -fa off (oruel's numerics)", m["srv_off"], "tok/s",
                   m["srv_off"] / m["srv"], label),
        common.Row("oruel run --parallel 1 (whole process)", m["p1"], "tok/s",
                   m["p1"] / m["srv"], label),
    ]  # fmt: skip
    if lcp is not None:
        rows.append(common.Row("llama-cpp-python create_chat_completion, serial", lcp, "tok/s",
                               lcp / m["srv"], label))  # fmt: skip
    common.print_table("Batch throughput (aggregate completion tokens/s)", rows, "vs server")
    print()
    print(f"  oruel p8 / llama-server (same sampling):  {m['p8'] / m['srv']:.3f}x")
    print(f"  oruel p8 / llama-server (its defaults):   {m['p8'] / m['srv_default']:.3f}x")
    print(f"  oruel p8 --flash-attn on / llama-server:  {m['p8fa'] / m['srv']:.3f}x")
    print(f"  oruel p8 / llama-server -fa off:          {m['p8'] / m['srv_off']:.3f}x")
    print(f"  oruel p8 / oruel p1:                      {m['p8'] / m['p1']:.3f}x")
    if lcp:
        print(f"  oruel p8 / llama-cpp-python serial:       {m['p8'] / lcp:.3f}x")
    if 1 in bb and 8 in bb:
        print(f"  llama-batched-bench S_TG: 1 seq {bb[1]:.1f}, 8 seq {bb[8]:.1f} tok/s "
              f"-> ceiling 8/1 = {bb[8] / bb[1]:.3f}x; oruel p8 is {m['p8'] / bb[8]:.3f}x "
              f"of batched-bench's 8 ({m['p8fa'] / bb[8]:.3f}x with --flash-attn on)")  # fmt: skip
    print("  raw:", {k: [round(x, 1) for x in v] for k, v in
                     {"p8": p8, "p8fa": p8fa, "p1": p1, "srv": srv,
                      "srv_default": srv_default, "srv_off": srv_off}.items()})  # fmt: skip
    print()
    print(common.verdict("oruel p8 / llama-server -np 8", m["p8"] / m["srv"], 1.05, True))
    print(common.verdict("oruel p8 --flash-attn on / llama-server -np 8", m["p8fa"] / m["srv"],
                         1.05, True))  # fmt: skip
    ceiling = bb[8] / bb[1] if 1 in bb and 8 in bb else None
    bar = 1.5 if ceiling is None or ceiling >= 1.5 else None
    if bar:
        print(common.verdict("oruel p8 / oruel p1", m["p8"] / m["p1"], bar, True))
    else:
        print(f"INFO  oruel p8 / p1: {m['p8'] / m['p1']:.3f}x beside the hardware's "
              f"ceiling {ceiling:.3f}x (under 1.5x: not the bar here)")  # fmt: skip
    print(common.GATE.summary())


if __name__ == "__main__":
    main()
