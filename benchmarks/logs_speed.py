"""The reply log's cost: `oruel ask --temperature 0 --max-tokens 64` with the log on
against the same ask with `--no-log`, whole processes. Bar: on <= 1.02x off.

The two run interleaved, round by round, in alternating order (on/off, then
off/on), after one warm-up each, so that a change of load on a shared host and
the page cache hit both alike; medians of --runs (>= 5). Both run with Python's
byte-code cache on (in the run's own folder), as an installed oruel has it. Both must generate 64
tokens (a prompt the default model answers at length), the log-on runs must each
have added a row and the --no-log runs none. The data folder and config are
private to the run (a temporary folder), so your own log is not touched.

Beside it, for reference, a figure that the load of a shared host hardly moves:
ask's own log step timed inside fresh processes (importing the log's modules,
then one write: open, check the schema, insert with its full-text index,
commit, close), median of 15.

    .venv/bin/python benchmarks/logs_speed.py [--runs 7] [--threads 2] [--repack auto]
"""

from __future__ import annotations

import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    GATE,
    Row,
    bench_parser,
    describe_host,
    model_path,
    oruel_exe,
    parse_bench_args,
    print_table,
    venv_python,
    verdict,
)

BAR = 1.02
TOKENS = 64
PROMPT = "Write a detailed essay on the history of the Roman Empire, from its founding to its fall."
STATS_RE = re.compile(r"(\d+) tokens · [\d.]+ tok/s · .*finish: (\w+)")


def timed(cmd: list[str]) -> tuple[float, str]:
    """Wall time of one whole process, after the quiet gate; its stderr."""
    GATE.wait()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"error: exit {proc.returncode}: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return elapsed, proc.stderr


def generated(stderr: str) -> tuple[int, str]:
    m = STATS_RE.search(stderr)
    if not m:
        sys.exit(f"error: no stats line in oruel's stderr:\n{stderr[-2000:]}")
    return int(m.group(1)), m.group(2)


def rows_in(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM replies").fetchone()[0])


# What ask does for the log, timed in a fresh process where ask's own modules are
# already imported: import the log's modules, carry_on (no -c), one ReplyLog.add.
PROBE = """
import sys, time
import oruel_cli.backends.local, oruel_cli.cli.ask_cmd, oruel_cli.common.command
from oruel_cli.config import Config
from oruel_cli.engine.reply import Completion
from oruel_cli.params.layering import ParamResolver
resolved = ParamResolver(Config(), None, {"temperature": 0.0, "max_tokens": 64}).resolve()
reply = "The Roman Empire was founded in 27 BC when Augustus became emperor. " * 5
comp = Completion("chatcmpl-x", "m", reply, "length", 40, 64, 0.8, 0.05)
messages = [{"role": "user", "content": sys.argv[2]}]
t0 = time.perf_counter()
from oruel_cli.logs.conversation import carry_on
from oruel_cli.logs.writer import ReplyLog
conv = carry_on(False, None)
ReplyLog.for_command("ask", Config(), False, conv.id).add(messages, resolved, sys.argv[1], comp)
print(time.perf_counter() - t0)
"""


def log_step_cost(runs: int = 15) -> float:
    """Median seconds of ask's log step (imports included) in fresh processes."""
    times = []
    for _ in range(runs):
        GATE.wait()
        out = subprocess.run(
            [venv_python(), "-c", PROBE, str(model_path()), PROMPT],
            capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL,
        ).stdout  # fmt: skip
        times.append(float(out.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> int:
    args, repack = parse_bench_args(bench_parser(__doc__, 7, "timed runs of each side, >= 5"))
    runs = max(args.runs, 5)
    setting = f"{repack.label}, threads={args.threads}"

    folder = Path(tempfile.mkdtemp(prefix="oruel-logs-bench-"))
    os.environ["ORUEL_DATA_DIR"] = str(folder / "data")
    os.environ["ORUEL_CONFIG"] = str(folder / "config.yaml")  # absent: log on, no user config
    # Byte-code as an installed oruel has it (pip compiles at install): without it, the
    # log-on side would compile the log's modules at every start, which no user pays.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    db = folder / "data" / "logs.db"
    base = [oruel_exe(), "ask", "--temperature", "0", "--max-tokens", str(TOKENS),
            "--threads", str(args.threads), *repack.oruel_args()]  # fmt: skip
    cmds = {"log on": [*base, PROMPT], "--no-log": [*base, "--no-log", PROMPT]}

    print("oruel reply-log cost benchmark")
    print(describe_host())
    print(f"model: {model_path()}")
    print(f"setting: {setting}; load average at start: {os.getloadavg()[0]:.2f}")
    print(f"data folder: {folder / 'data'} (private to this run); byte-code cached under")
    print(f"  {folder / 'pycache'} (PYTHONPYCACHEPREFIX), as an installed package has it")

    for cmd in cmds.values():  # warm-up: page cache, the first log's creation
        timed(cmd)
    times: dict[str, list[float]] = {k: [] for k in cmds}
    made: dict[str, list[tuple[int, str]]] = {k: [] for k in cmds}
    added: dict[str, list[int]] = {k: [] for k in cmds}
    for i in range(runs):
        order = list(cmds) if i % 2 == 0 else list(cmds)[::-1]
        for key in order:
            before = rows_in(db)
            dt, err = timed(cmds[key])
            times[key].append(dt)
            made[key].append(generated(err))
            added[key].append(rows_in(db) - before)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["log on"] / med["--no-log"]
    paired = statistics.median(
        a / b for a, b in zip(times["log on"], times["--no-log"], strict=True)
    )
    cost = log_step_cost()

    rows = [
        Row("ask --no-log (64 tokens)", med["--no-log"], "s", None, setting),
        Row("ask, log on (64 tokens)", med["log on"], "s", ratio, setting),
    ]
    print_table("whole-process time, median", rows, "x --no-log")
    print("\n  all times (s), in run order:")
    for k, v in times.items():
        print(f"    {k}: {', '.join(f'{t:.3f}' for t in v)}")
    print(f"  median of the per-round ratios (on / off): {paired:.3f}x")
    print(
        f"  ask's log step in a fresh process (imports, one write): {cost * 1000:.2f} ms"
        f" (median of 15): {cost / min(times['--no-log']):.2%} of the fastest --no-log ask"
    )
    print(f"  {GATE.summary()}")

    print("\nchecks:")
    counts = {k: sorted(set(v)) for k, v in made.items()}
    ok_tokens = all(c == [(TOKENS, "length")] for c in counts.values())
    print(f"  {'PASS' if ok_tokens else 'FAIL'}  both generate {TOKENS} tokens: {counts}")
    ok_rows = set(added["log on"]) == {1} and set(added["--no-log"]) == {0}
    print(f"  {'PASS' if ok_rows else 'FAIL'}  rows added per run: {added}")

    print("\nverdicts:")
    line = verdict("log on / --no-log, medians", ratio, BAR, False)
    print("  " + line)
    return 0 if line.startswith("PASS") and ok_tokens and ok_rows else 1


if __name__ == "__main__":
    sys.exit(main())
