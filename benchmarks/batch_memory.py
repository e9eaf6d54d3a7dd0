"""Memory of a long batch job: the resident size of one `oruel run` process
as its lines are done, on a job of --lines lines (default 1,000; --parallel 8,
max_tokens 8, greedy, each prompt different).

It samples the process's VmRSS (/proc) every 0.1 s beside the count of records
written so far and prints it at every tenth of the job, then the verdict: the
resident size once the first tenth is done against the peak after it. Flat
means the job keeps no per-line state (records are written and forgotten,
prompts are read as they are needed): the bar is a growth under 5%.

    .venv/bin/python benchmarks/batch_memory.py [--lines 1000] [--threads 2]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

BAR = 1.05


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def records(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def main() -> None:
    ap = common.bench_parser(__doc__, 1)
    ap.add_argument("--lines", type=int, default=1000, help="lines in the job (default 1000)")
    args, repack = common.parse_bench_args(ap)
    print(common.describe_host())
    with tempfile.TemporaryDirectory() as tmp:
        job, out = Path(tmp) / "job.jsonl", Path(tmp) / "out.jsonl"
        with job.open("w") as f:
            for i in range(args.lines):
                f.write(
                    json.dumps({"id": f"l{i}", "prompt": f"Say the number {i} in words."}) + "\n"
                )
        cmd = [
            common.oruel_exe(), "run", str(job), "-o", str(out), "--parallel", "8",
            "--max-tokens", "8", "--temperature", "0", "--threads", str(args.threads),
            "--no-log", *repack.oruel_args(),
        ]  # fmt: skip
        print(f"{args.lines} lines, --parallel 8, max_tokens 8, threads {args.threads}, "
              f"{repack.label}")  # fmt: skip
        common.GATE.wait()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        samples: list[tuple[int, int]] = []  # (records done, VmRSS KiB)
        while proc.poll() is None:
            kib = rss_kib(proc.pid)
            if kib is not None:
                samples.append((records(out), kib))
            time.sleep(0.1)
        wall = time.perf_counter() - t0
        err = proc.stderr.read() if proc.stderr else ""
        if proc.returncode != 0:
            sys.exit(f"error: oruel run exited {proc.returncode}\n{err[-2000:]}")
        done = records(out)
    print(f"  {done} records in {wall:.1f} s")
    print("  records done   VmRSS")
    for tenth in range(1, 11):
        mark = args.lines * tenth // 10
        at = [kib for n, kib in samples if n >= mark]  # the first sample once `mark` are done
        if at:
            print(f"  {mark:>12}   {at[0] / 1024:7.1f} MiB")
    base = [kib for n, kib in samples if n >= args.lines // 10]
    if not base:
        sys.exit("error: no sample after the first tenth of the job")
    growth = max(base) / base[0]
    print(f"  after the first tenth: {base[0] / 1024:.1f} MiB, peak {max(base) / 1024:.1f} MiB "
          f"({growth:.3f}x)")  # fmt: skip
    print()
    print(common.verdict("VmRSS peak / at a tenth of the job", growth, BAR, False))


if __name__ == "__main__":
    main()
