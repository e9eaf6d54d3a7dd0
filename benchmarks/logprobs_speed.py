"""The cost of logprobs: the same work with and without them, whole processes.

Side by side in one run, interleaved round by round in alternating order (so a
change of load on a shared host hits both alike), after one warm-up each:

- `oruel ask --temperature 0 --max-tokens 256` on a prompt the default model
  answers at length, with `--logprobs 5` against without (both piped, both
  --no-log). Bar: with <= 1.10x the time without. Both must generate 256 tokens.
- `oruel run --parallel 8` over batch_speed.py's 32 prompts (max_tokens 128,
  temperature 0.7, a seed a line), every line with `logprobs: true,
  top_logprobs: 5` against the same lines without: aggregate completion
  tokens/s. Bar: with >= 0.9x without. Every record of the logprobs job must
  carry one entry a completion token, each with 5 alternatives.

    .venv/bin/python benchmarks/logprobs_speed.py [--runs 5] [--threads 2] [--repack auto]

`--quick` checks that the script works (32-token asks, 8 lines of 16 tokens,
one round): it measures nothing.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from batch_speed import MAX_TOKENS, TEMPERATURE, prompts  # noqa: E402

ASK_BAR = 1.10
RUN_BAR = 0.9
TOKENS = 256
TOP = 5
PARALLEL = 8
PROMPT = "Write a detailed essay on the history of the Roman Empire, from its founding to its fall."
STATS_RE = re.compile(r"(\d+) tokens · [\d.]+ tok/s · .*finish: (\w+)")


def timed_ask(cmd: list[str]) -> tuple[float, tuple[int, str]]:
    """Wall time of one whole `oruel ask`; (tokens, finish) from its stats line."""
    common.GATE.wait()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"error: exit {proc.returncode}: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    m = STATS_RE.search(proc.stderr)
    if not m:
        sys.exit(f"error: no stats line in oruel's stderr:\n{proc.stderr[-2000:]}")
    return elapsed, (int(m.group(1)), m.group(2))


def write_job(path: Path, logprobs: bool, lines: int) -> Path:
    extra = {"logprobs": True, "top_logprobs": TOP} if logprobs else {}
    with path.open("w") as f:
        for i, p in enumerate(prompts()[:lines]):
            f.write(json.dumps({"id": f"b{i}", "prompt": p, "seed": i, **extra}) + "\n")
    return path


def timed_run(cmd: list[str], out: Path) -> tuple[float, list[dict]]:
    """Aggregate completion tokens/s of one whole `oruel run`; its records."""
    common.GATE.wait()
    t0 = time.perf_counter()
    common.run_checked(cmd)
    wall = time.perf_counter() - t0
    records = [json.loads(line) for line in out.open()]
    return sum(r["usage"]["completion_tokens"] for r in records) / wall, records


def records_ok(records: list[dict], lines: int) -> bool:
    """One entry a completion token (the end-of-generation token aside), 5 alternatives each."""
    for r in records:
        content = (r.get("logprobs") or {}).get("content") or []
        n = r["usage"]["completion_tokens"]
        if r["error"] is not None or len(content) not in (n, n - 1):
            return False
        if any(len(t["top_logprobs"]) != TOP for t in content):
            return False
    return len(records) == lines


def main() -> int:
    ap = common.bench_parser(__doc__, 5, "timed rounds of each side, >= 3")
    ap.add_argument("--quick", action="store_true", help="check the script; measure nothing")
    args, repack = common.parse_bench_args(ap)
    runs = 1 if args.quick else max(args.runs, 3)
    tokens, lines, max_tokens = (32, 8, 16) if args.quick else (TOKENS, len(prompts()), MAX_TOKENS)
    setting = f"{repack.label}, threads={args.threads}"
    folder = Path(tempfile.mkdtemp(prefix="oruel-logprobs-bench-"))
    os.environ["ORUEL_DATA_DIR"] = str(folder / "data")
    os.environ["ORUEL_CONFIG"] = str(folder / "config.yaml")  # absent: no user config
    exe, threads = common.oruel_exe(), ["--threads", str(args.threads), *repack.oruel_args()]

    print("oruel logprobs cost benchmark")
    print(common.describe_host())
    print(f"model: {common.model_path()}")
    print(f"setting: {setting}; load average at start: {os.getloadavg()[0]:.2f}")
    if args.quick:
        print("--quick: a check of the script on small work; the figures mean nothing")

    ask = [exe, "ask", "--temperature", "0", "--max-tokens", str(tokens), "--no-log", *threads]
    asks = {"without": [*ask, PROMPT], "--logprobs 5": [*ask, "--logprobs", str(TOP), PROMPT]}
    for cmd in asks.values():
        timed_ask(cmd)
    ask_times: dict[str, list[float]] = {k: [] for k in asks}
    made: dict[str, set[tuple[int, str]]] = {k: set() for k in asks}
    for i in range(runs):
        for key in list(asks) if i % 2 == 0 else list(asks)[::-1]:
            dt, got = timed_ask(asks[key])
            ask_times[key].append(dt)
            made[key].add(got)

    jobs = {
        "without": write_job(folder / "plain.jsonl", False, lines),
        "top_logprobs 5": write_job(folder / "logprobs.jsonl", True, lines),
    }
    run_cmds = {
        k: [exe, "run", str(job), "-o", str(folder / f"{job.stem}.out.jsonl"), "--overwrite",
            "--parallel", str(PARALLEL), "--max-tokens", str(max_tokens),
            "--temperature", str(TEMPERATURE), "--no-log", *threads]
        for k, job in jobs.items()
    }  # fmt: skip
    outs = {k: folder / f"{job.stem}.out.jsonl" for k, job in jobs.items()}
    for key, cmd in run_cmds.items():
        timed_run(cmd, outs[key])
    rates: dict[str, list[float]] = {k: [] for k in run_cmds}
    lp_ok = True
    for i in range(runs):
        for key in list(run_cmds) if i % 2 == 0 else list(run_cmds)[::-1]:
            rate, records = timed_run(run_cmds[key], outs[key])
            rates[key].append(rate)
            if key != "without":
                lp_ok = lp_ok and records_ok(records, lines)

    ask_med = {k: statistics.median(v) for k, v in ask_times.items()}
    ask_ratio = ask_med["--logprobs 5"] / ask_med["without"]
    run_med = {k: statistics.median(v) for k, v in rates.items()}
    run_ratio = run_med["top_logprobs 5"] / run_med["without"]
    common.print_table(
        f"ask, {tokens} tokens: whole-process time, median of {runs}",
        [
            common.Row("ask", ask_med["without"], "s", None, setting),
            common.Row("ask --logprobs 5", ask_med["--logprobs 5"], "s", ask_ratio, setting),
        ],
        "x without",
    )
    common.print_table(
        f"run --parallel {PARALLEL}, {lines} lines: completion tokens/s, median of {runs}",
        [
            common.Row("run", run_med["without"], "tok/s", None, setting),
            common.Row(
                "run, top_logprobs 5", run_med["top_logprobs 5"], "tok/s", run_ratio, setting
            ),
        ],  # fmt: skip
        "x without",
    )
    print("\n  all figures, in run order:")
    for k, v in ask_times.items():
        print(f"    ask {k}: {', '.join(f'{t:.3f} s' for t in v)}")
    for k, v in rates.items():
        print(f"    run {k}: {', '.join(f'{t:.1f} tok/s' for t in v)}")
    print(f"  {common.GATE.summary()}")

    print("\nchecks:")
    ok_tokens = all(m == {(tokens, "length")} for m in made.values())
    print(f"  {'PASS' if ok_tokens else 'FAIL'}  both asks generate {tokens} tokens: {made}")
    print(f"  {'PASS' if lp_ok else 'FAIL'}  every logprobs record has its entries, {TOP} each")

    print("\nverdicts:")
    lines = [
        common.verdict("ask --logprobs 5 / without, medians", ask_ratio, ASK_BAR, False),
        common.verdict("run top_logprobs 5 / without, tok/s", run_ratio, RUN_BAR, True),
    ]
    for line in lines:
        print("  " + line)
    return 0 if all(x.startswith("PASS") for x in lines) and ok_tokens and lp_ok else 1


if __name__ == "__main__":
    sys.exit(main())
