"""Fleet throughput: `oruel run --endpoint` against a plain openai-client script.

Side by side in one run, against one warm `llama-server -np 8`: the same 32
requests (batch_speed.py's prompts, max_tokens 128, temperature 0.7, a seed
each), 8 in flight at a time, through

- `oruel run JOB --endpoint URL --parallel 8`, a whole process: its records
  fsynced one by one, progress, summary, the `GET /v1/models` it asks first;
- a plain Python script, a whole process too: `GET /v1/models`, then the same
  request bodies (oruel's: top_k 0, min_p 0, both penalty names in the extra
  body) through the official `openai` client on 8 threads, nothing written.

Each figure is aggregate completion tokens/s over the process's wall time,
the median of --runs interleaved runs (in alternating order); beside it, each
client process's own CPU time per request. The bar: oruel >= 0.95x the script.

    .venv/bin/python benchmarks/endpoint_speed.py [--runs 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import batch_speed  # noqa: E402
import common  # noqa: E402

PARALLEL = 8

PLAIN = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
from openai import OpenAI
url, prompts, max_tokens, temperature = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
client = OpenAI(base_url=url, api_key="no-key", max_retries=0, timeout=600)
model = client.models.list().data[0].id
def one(i):
    r = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompts[i]}], temperature=temperature,
        top_p=1.0, frequency_penalty=0.0, presence_penalty=0.0, seed=i, max_tokens=max_tokens,
        extra_body={"top_k": 0, "min_p": 0.0, "repetition_penalty": 1.0, "repeat_penalty": 1.0})
    return r.usage.completion_tokens
with ThreadPoolExecutor(8) as pool:
    print(sum(pool.map(one, range(len(prompts)))))
"""


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall seconds, the process's CPU seconds, and its result."""
    common.GATE.wait()
    cpu0, t0 = child_cpu(), time.perf_counter()
    res = common.run_checked(cmd)
    return time.perf_counter() - t0, child_cpu() - cpu0, res


def oruel_run(url: str, job: Path, out: Path) -> tuple[float, float]:
    cmd = [
        common.oruel_exe(), "run", str(job), "-o", str(out), "--overwrite", "--no-log",
        "--endpoint", url, "--parallel", str(PARALLEL),
        "--max-tokens", str(batch_speed.MAX_TOKENS), "--temperature", str(batch_speed.TEMPERATURE),
    ]  # fmt: skip
    wall, cpu, _ = timed(cmd)
    recs = [json.loads(line) for line in out.open()]
    assert len(recs) == 32 and all(r["error"] is None for r in recs), "a line failed"
    return sum(r["usage"]["completion_tokens"] for r in recs) / wall, cpu


def plain_script(url: str) -> tuple[float, float]:
    cmd = [
        common.venv_python(), "-c", PLAIN, url, json.dumps(batch_speed.prompts()),
        str(batch_speed.MAX_TOKENS), str(batch_speed.TEMPERATURE),
    ]  # fmt: skip
    wall, cpu, res = timed(cmd)
    return int(res.stdout.strip().splitlines()[-1]) / wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repack", choices=["auto", "on", "off"], default="auto")
    common.add_gate_option(ap)
    args = ap.parse_args()
    common.GATE.max_busy = args.max_busy
    repack = common.repack_setting(args.repack)
    print(common.describe_host())
    print(
        f"32 requests, {PARALLEL} in flight, max_tokens {batch_speed.MAX_TOKENS}, temperature "
        f"{batch_speed.TEMPERATURE}; llama-server -np {PARALLEL}, threads {args.threads}, "
        f"{repack.label}; median of {args.runs}"
    )
    server = batch_speed.Server(args.threads, repack, slots=PARALLEL)

    def stop(*_: object) -> None:  # a SIGTERM mid-job: no server is left behind
        server.proc.kill()
        os._exit(143)

    signal.signal(signal.SIGTERM, stop)
    url = f"{server.url}/v1"
    rates: dict[str, list[float]] = {"oruel": [], "plain": []}
    cpu: dict[str, list[float]] = {"oruel": [], "plain": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            job = batch_speed.write_job(Path(tmp))
            out = Path(tmp) / "out.jsonl"
            plain_script(url)  # warm-up: the server's first requests, the page cache
            for i in range(args.runs):
                turns = [
                    ("oruel", lambda: oruel_run(url, job, out)),
                    ("plain", lambda: plain_script(url)),
                ]
                for name, turn in turns if i % 2 == 0 else turns[::-1]:
                    rate, seconds = turn()
                    rates[name].append(rate)
                    cpu[name].append(1000 * seconds / 32)
                print(f"  run: oruel run --endpoint {rates['oruel'][-1]:.1f}, plain script "
                      f"{rates['plain'][-1]:.1f} tok/s", flush=True)  # fmt: skip
    finally:
        server.close()

    m = {k: statistics.median(v) for k, v in rates.items()}
    c = {k: statistics.median(v) for k, v in cpu.items()}
    label = repack.label
    rows = [
        common.Row("plain openai script, 8 threads", m["plain"], "tok/s", None, label),
        common.Row(f"oruel run --endpoint --parallel {PARALLEL}", m["oruel"], "tok/s",
                   m["oruel"] / m["plain"], label),
    ]  # fmt: skip
    common.print_table("Fleet throughput (aggregate completion tokens/s)", rows, "vs script")
    print()
    print(f"  oruel run --endpoint / plain script:  {m['oruel'] / m['plain']:.3f}x")
    print(f"  client CPU per request: oruel {c['oruel']:.1f} ms, plain script {c['plain']:.1f} ms "
          "(whole processes, start-up included)")  # fmt: skip
    print("  raw:", {k: [round(x, 1) for x in v] for k, v in rates.items()})
    print()
    print(common.verdict("oruel run --endpoint / plain openai script", m["oruel"] / m["plain"],
                         0.95, True))  # fmt: skip
    print(common.GATE.summary())


if __name__ == "__main__":
    main()
