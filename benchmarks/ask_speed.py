"""One-shot speed: oruel ask against llama.cpp's own tools, same model, threads, repack.

(a) llama-bench tg128: llama.cpp's single-stream decode rate, 128 tokens.
(b) oruel's decode rate on the same number of tokens: the stats line of
    `oruel ask --max-tokens 128` (tokens after the first over the time after
    the first, as llama.cpp counts it). Bar: >= 0.90x tg128. For reference,
    llama-bench at the ask's depth with flash attention set as oruel sets it
    (tgN @ dP -fa off on the CPU: the same decode work as the ask, so
    oruel/that is the engine's own overhead), the 256-token ask's rate, and
    a whole-process estimate (256-128)/(T256 - T128).
(c) whole-process time of `oruel ask --temperature 0 --max-tokens 256 PROMPT`
    against `llama-completion -no-cnv --temp 0 -n 256 --ignore-eos` on the same
    chat-templated prompt . Bar: <= 1.15x.
    Both must generate 256 tokens.

llama-bench and the three processes run interleaved, round by round, so that
a change of load on a shared host hits every figure alike.

    .venv/bin/python benchmarks/ask_speed.py [--threads 2] [--runs 5] [--repack auto]
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    GATE,
    Row,
    bench_parser,
    chatml_prompt,
    describe_host,
    model_path,
    oruel_exe,
    parse_bench_args,
    print_table,
    run_checked,
    tool,
    verdict,
)

PROMPT = "Write a detailed essay on the history of the Roman Empire, from its founding to its fall."
DECODE_BAR, WHOLE_BAR = 0.90, 1.15
TG = 128  # llama-bench's tg128: the decode bar compares the same number of tokens
STATS_RE = re.compile(r"(\d+) tokens · ([\d.]+) tok/s · .*finish: (\w+)")
PERF_RE = {
    "prompt": re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens"),
    "eval": re.compile(r"\beval time =\s*([\d.]+) ms /\s*(\d+) runs"),
    "sampled": re.compile(r"samplers time =\s*[\d.]+ ms /\s*(\d+) tokens"),
}


def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    GATE.wait()
    t0 = time.perf_counter()
    proc = run_checked(cmd)
    return time.perf_counter() - t0, proc


def parse_stats(stderr: str) -> tuple[int, float, str]:
    m = STATS_RE.search(stderr)
    if not m:
        sys.exit(f"error: no stats line in oruel's stderr:\n{stderr[-2000:]}")
    return int(m.group(1)), float(m.group(2)), m.group(3)


def parse_perf(stderr: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, rx in PERF_RE.items():
        m = rx.search(stderr)
        if not m:
            sys.exit(f"error: no '{key}' figure in llama-completion's log:\n{stderr[-2000:]}")
        if key == "sampled":
            out["sampled"] = int(m.group(1))
        else:
            out[f"{key}_ms"], out[f"{key}_n"] = float(m.group(1)), int(m.group(2))
    return out


def llama_bench_tg(
    model: Path, threads: int, n_gen: int, reps: int, repack, depth: int = 0, fa: str = "auto"
) -> list[float]:
    """llama-bench's tg rates (tok/s), one per repetition, at `depth` tokens
    already in the context, flash attention `fa` (llama-bench's default: auto)."""
    cmd = [tool("llama-bench"), "-m", str(model), "-t", str(threads), "-p", "0", "-fa", fa]
    cmd += ["-n", str(n_gen), "-d", str(depth), "-r", str(reps), "-o", "json"]
    cmd += repack.tool_args("llama-bench")
    GATE.wait()
    results = json.loads(run_checked(cmd).stdout)
    tg = next(r for r in results if r["n_prompt"] == 0 and r["n_gen"] == n_gen)
    return [float(x) for x in tg.get("samples_ts") or [tg["avg_ts"]]]


def main() -> int:
    ap = bench_parser(__doc__, 5, "timed runs of each process, >= 3")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument(
        "--bench-reps", type=int, default=2, help="llama-bench repetitions per round (>= 2)"
    )
    ap.add_argument("--prompt", default=PROMPT)
    args, repack = parse_bench_args(ap)
    runs, n, t = max(args.runs, 3), args.max_tokens, args.threads
    args.bench_reps = max(args.bench_reps, 2)

    model = model_path()
    setting = f"{repack.label}, threads={t}"
    oruel = oruel_exe()
    base = ["ask", "--temperature", "0", "--threads", str(t), *repack.oruel_args()]
    cmds = {
        "oruel": [oruel, *base, "--max-tokens", str(n), args.prompt],
        "oruel128": [oruel, *base, "--max-tokens", str(TG), args.prompt],
        "llama": [
            tool("llama-completion"),
            "-no-cnv",
            "--temp",
            "0",
            "-n",
            str(n),
            "--ignore-eos",
            "-t",
            str(t),
            "-m",
            str(model),
            "-p",
            chatml_prompt(args.prompt),
            *repack.tool_args("llama-completion"),
        ],  # fmt: skip
    }

    print("oruel one-shot speed benchmark")
    print(describe_host())
    print(f"model: {model}")
    print(f"setting: {setting}; load average at start: {os.getloadavg()[0]:.2f}")
    print("flash attention: llama-bench tg128 and llama-completion as they come (auto: on);")
    print("  oruel as it decides (off on the CPU), and the same-work rows like oruel")

    # One short ask tells the prompt's depth (stdout) and oruel's flash-attention
    # choice (--show-params on stderr; RuntimeSettings.flash_attn: off on the CPU).
    probe = run_checked(
        [oruel, *base, "--max-tokens", "1", "--output-json", "--show-params", args.prompt]
    )
    usage = json.loads(probe.stdout)["usage"]
    depth = usage["prompt_tokens"]
    fa_same = "off" if "flash_attn = off" in probe.stderr else "auto"

    # Every round runs llama-bench (tg128 as it comes, and tg128 / tgN at the
    # prompt's depth with flash attention off, as oruel runs on the CPU: the same
    # decode work as the asks), then the three whole processes, so that
    # a change of load on a shared host hits every figure alike. One warm-up of
    # each process first.
    for cmd in cmds.values():
        timed(cmd)
    bench: dict[str, list[float]] = {"tg": [], "tg_d": [], "tgn_d": []}
    times: dict[str, list[float]] = {k: [] for k in cmds}
    stats: dict[str, list[tuple[int, float, str]]] = {"oruel": [], "oruel128": []}
    perfs: list[dict[str, float]] = []
    oruel_text = llama_text = ""
    for _ in range(runs):
        bench["tg"] += llama_bench_tg(model, t, TG, args.bench_reps, repack)
        bench["tg_d"] += llama_bench_tg(model, t, TG, args.bench_reps, repack, depth, fa_same)
        bench["tgn_d"] += llama_bench_tg(model, t, n, args.bench_reps, repack, depth, fa_same)
        for key, cmd in cmds.items():
            dt, proc = timed(cmd)
            times[key].append(dt)
            if key in stats:
                stats[key].append(parse_stats(proc.stderr))
                if key == "oruel":
                    oruel_text = proc.stdout
            else:
                perfs.append(parse_perf(proc.stderr))
                llama_text = proc.stdout
    med = {k: statistics.median(v) for k, v in times.items()}
    bmed = {k: statistics.median(v) for k, v in bench.items()}
    bsd = {k: statistics.stdev(v) for k, v in bench.items()}
    tg = bmed["tg"]

    # checks: tokens generated, same prompt, same text
    oruel_counts = sorted({(s[0], s[2]) for s in stats["oruel"]})
    oruel128_counts = sorted({(s[0], s[2]) for s in stats["oruel128"]})
    llama_gen = sorted({int(p["sampled"] - p["prompt_n"]) for p in perfs})
    llama_evals = sorted({int(p["eval_n"]) for p in perfs})
    llama_prompt_n = sorted({int(p["prompt_n"]) for p in perfs})

    rate128 = statistics.median(s[1] for s in stats["oruel128"])
    rate = statistics.median(s[1] for s in stats["oruel"])
    decode_est = (n - TG) / (med["oruel"] - med["oruel128"])
    llama_eval_tps = statistics.median(p["eval_n"] / p["eval_ms"] * 1000 for p in perfs)

    print_table(
        f"(a)+(b) single-stream decode rate, median of {runs} (llama-bench: {runs} x {args.bench_reps} reps)",
        [
            Row(f"llama-bench tg{TG} (sd {bsd['tg']:.1f})", tg, "tok/s", None, setting),
            Row(f"oruel ask --max-tokens {TG}: decode rate (stats line)", rate128, "tok/s", rate128 / tg, setting),
            Row(f"llama-bench tg{TG} @ depth {depth} -fa {fa_same} (sd {bsd['tg_d']:.1f}), info", bmed["tg_d"], "tok/s", bmed["tg_d"] / tg, setting),
            Row(f"oruel ask --max-tokens {n}: decode rate, info", rate, "tok/s", rate / tg, setting),
            Row(f"llama-bench tg{n} @ depth {depth} -fa {fa_same} (sd {bsd['tgn_d']:.1f}), info", bmed["tgn_d"], "tok/s", bmed["tgn_d"] / tg, setting),
            Row(f"llama-completion -n {n}: eval rate (its log), info", llama_eval_tps, "tok/s", llama_eval_tps / tg, setting),
            Row(f"oruel whole-process estimate ({n}-{TG})/(T{n}-T{TG}), info", decode_est, "tok/s", decode_est / tg, setting),
        ],
        f"x tg{TG}",
    )  # fmt: skip
    print(
        f"  same work, oruel / llama.cpp: {TG} tokens {rate128 / bmed['tg_d']:.3f}x tg{TG} @ d{depth}; "
        f"{n} tokens {rate / bmed['tgn_d']:.3f}x tg{n} @ d{depth}, "
        f"{rate / llama_eval_tps:.3f}x llama-completion's eval rate"
    )
    print_table(
        f"(c) whole-process time, median of {runs} after 1 warm-up, interleaved",
        [
            Row(f"llama-completion -n {n} --ignore-eos", med["llama"], "s", None, setting),
            Row(f"oruel ask --max-tokens {n}", med["oruel"], "s", med["oruel"] / med["llama"], setting),
            Row(f"oruel ask --max-tokens {TG}, info", med["oruel128"], "s", med["oruel128"] / med["llama"], setting),
        ],
        "x llama",
    )  # fmt: skip
    names = {
        "oruel": f"oruel ask --max-tokens {n}",
        "oruel128": f"oruel ask --max-tokens {TG}",
        "llama": f"llama-completion -n {n}",
    }
    print("\n  all times (s):")
    for k, v in times.items():
        print(f"    {names[k]}: {', '.join(f'{x:.3f}' for x in v)}")
    print("  all oruel decode rates (tok/s):")
    for k, v in stats.items():
        print(f"    {names[k]}: {', '.join(f'{x[1]:.1f}' for x in v)}")

    print("\nchecks:")
    oruel_ok = oruel_counts == [(n, "length")] and oruel128_counts == [(TG, "length")]
    print(
        f"  oruel tokens, finish (every run): {oruel_counts} {oruel128_counts}"
        f"  -> {'ok' if oruel_ok else f'NOT {n} and {TG}'}"
    )
    llama_ok = llama_gen == [n]
    print(
        f"  llama-completion generated (sampled - prompt): {llama_gen}, eval runs {llama_evals}"
        f"  -> {'ok' if llama_ok else 'NOT ' + str(n)}"
    )
    same_prompt = llama_prompt_n == [usage["prompt_tokens"]]
    print(
        f"  prompt tokens: oruel {usage['prompt_tokens']}, llama-completion {llama_prompt_n}"
        f"  -> {'same' if same_prompt else 'DIFFERENT'}"
    )

    # The timed llama-completion keeps its own flash-attention choice (auto), so
    # near-ties can go the other way; once more with oruel's, the text must match.
    def generated(stdout: str) -> str:
        return stdout.split(args.prompt + "\nassistant\n", 1)[-1].strip()

    shown = generated(run_checked([*cmds["llama"], "-fa", fa_same]).stdout)
    same_text = bool(shown) and oruel_text.strip() == shown
    print(
        f"  same generated text as llama-completion -fa {fa_same}: "
        f"{'yes' if same_text else 'NO'} ({len(shown)} characters); "
        f"the timed llama-completion (-fa auto) "
        f"{'agrees' if generated(llama_text) == shown else 'differs (a near-tie)'}"
    )
    print(f"  load average at end: {os.getloadavg()[0]:.2f}; {GATE.summary()}")

    print("\nverdicts:")
    lines = [
        verdict(f"decode, oruel ask {TG} tokens (stats line) / tg{TG}", rate128 / tg, DECODE_BAR, True),
        verdict(f"one-shot, oruel ask {n} / llama-completion", med["oruel"] / med["llama"], WHOLE_BAR, False),
    ]  # fmt: skip
    for line in lines:
        print("  " + line)
    ok = all(x.startswith("PASS") for x in lines) and oruel_ok and llama_ok
    if not (oruel_ok and llama_ok):
        print(f"  FAIL  token counts: both must generate {n} tokens")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
