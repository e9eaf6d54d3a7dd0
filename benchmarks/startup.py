"""Start-up: whole-process time of light oruel commands against the floor app.

The floor (`benchmarks/startup_floor.py params explain temperature`) is a
minimal Typer + pydantic + rich app doing the same kind of work; the bar is
`oruel params explain temperature` <= 1.15x it. All run with the venv's
python, stdout to /dev/null, interleaved, median of N runs after a warm-up.
It also checks that those commands never import llama_cpp.

    .venv/bin/python benchmarks/startup.py [--runs 7] [--floor PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    GATE,
    REPO_ROOT,
    Row,
    add_gate_option,
    describe_host,
    interleaved_medians,
    oruel_exe,
    print_table,
    venv_python,
    verdict,
)

BAR = 1.15
COMMANDS = {
    "oruel params explain temperature": ["params", "explain", "temperature"],
    "oruel --help": ["--help"],
    "oruel presets list": ["presets", "list"],
    "oruel logs": ["logs"],  # reads the user's log (the latest 3 replies), writes nothing
}
HEAVY = ("llama_cpp", "numpy", "jinja2", "oruel_cli.engine", "oruel_cli.engine.llama")

# Runs oruel's main() in-process with the given argv, then reports which heavy
# modules ended up in sys.modules (on the real stderr, stdout being discarded).
PROBE = """
import json, sys
heavy = json.loads(sys.argv[2])
from oruel_cli.cli.main import main
sys.argv = ['oruel'] + json.loads(sys.argv[1])
code = 0
try:
    main()
except SystemExit as e:
    code = e.code
sys.__stderr__.write('PROBE ' + json.dumps({
    'exit': code, 'loaded': [m for m in heavy if m in sys.modules]}) + '\\n')
"""


def import_probe(args: list[str]) -> dict:
    proc = subprocess.run(
        [venv_python(), "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    for line in proc.stderr.splitlines():
        if line.startswith("PROBE "):
            return json.loads(line[6:])
    sys.exit(f"error: import probe failed for {args}:\n{proc.stderr[-3000:]}")


def import_costs(argv: list[str], top: int) -> list[tuple[int, int, str]]:
    """-X importtime of `oruel ARGV` in-process: the `top` imports (nesting depth <= 1)
    by cumulative time, in microseconds."""
    code = (
        f"import sys; from oruel_cli.cli.main import main; sys.argv = ['oruel'] + {argv!r}; main()"
    )
    proc = subprocess.run(
        [venv_python(), "-X", "importtime", "-c", code],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line[len("import time:") :].split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        if depth <= 1:  # top-level imports and what they import directly
            rows.append((int(self_us), int(cum_us), "  " * depth + name.strip()))
    return sorted(rows, key=lambda r: -r[1])[:top]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="timed runs per command (>= 5)")
    ap.add_argument(
        "--floor",
        default=str(REPO_ROOT / "benchmarks" / "startup_floor.py"),
        help="the floor app (default: benchmarks/startup_floor.py)",
    )
    ap.add_argument(
        "--importtime",
        type=int,
        default=12,
        metavar="N",
        help="show the N costliest imports (depth <= 1, nested ones indented) of the first command (0: none)",
    )
    add_gate_option(ap)
    args = ap.parse_args()
    GATE.max_busy = args.max_busy
    floor = Path(args.floor).resolve()
    if not floor.exists():
        sys.exit(f"error: no floor app at {floor} (use --floor)")
    runs = max(args.runs, 5)

    py, oruel = venv_python(), oruel_exe()
    # An installed oruel runs from bytecode pip compiled; a source checkout
    # under PYTHONDONTWRITEBYTECODE=1 would compile every module on every run
    # (~70 ms here), so compile them once first, as an install does.
    subprocess.run([py, "-m", "compileall", "-q", str(REPO_ROOT / "oruel_cli")], check=True)
    cmds = {
        "floor: startup_floor.py params explain temperature": [
            py,
            str(floor),
            "params",
            "explain",
            "temperature",
        ]
    }
    cmds |= {name: [oruel, *argv] for name, argv in COMMANDS.items()}

    print("oruel start-up benchmark")
    print(describe_host())
    print(f"python: {py}; runs: {runs} each after 1 warm-up, interleaved; stdout -> /dev/null")
    times = interleaved_medians(cmds, runs)
    med = {k: statistics.median(v) for k, v in times.items()}
    floor_key = next(iter(cmds))
    no_model = "repack n/a (no model loaded)"
    rows = [Row(floor_key, med[floor_key], "s", None, no_model)]
    rows += [Row(k, med[k], "s", med[k] / med[floor_key], no_model) for k in COMMANDS]
    print_table("whole-process time, median", rows, "x floor")
    print("\n  all times (s):")
    for k, v in times.items():
        print(f"    {k}: {', '.join(f'{t:.3f}' for t in v)}")
    print(f"  {GATE.summary()}")

    print("\nimports (sys.modules after main() in-process):")
    clean = True
    for name, argv in COMMANDS.items():
        res = import_probe(argv)
        has_llama = "llama_cpp" in res["loaded"]
        clean &= not has_llama
        print(
            f"  {name}: exit {res['exit']}; llama_cpp imported: {'YES' if has_llama else 'no'}; "
            f"heavy modules loaded: {', '.join(res['loaded']) or 'none'}"
        )

    if args.importtime:
        first = next(iter(COMMANDS))
        print(
            f"\ncostliest imports (depth <= 1, nested ones indented) of `{first}` (-X importtime, one run):"
        )
        for self_us, cum_us, name in import_costs(COMMANDS[first], args.importtime):
            print(f"  {cum_us / 1000:7.1f} ms cumulative  {self_us / 1000:6.1f} ms self  {name}")

    print("\nverdicts:")
    first = next(iter(COMMANDS))
    ok_line = verdict(f"start-up, {first} / floor", med[first] / med[floor_key], BAR, False)
    print("  " + ok_line)
    for k in list(COMMANDS)[1:]:
        print(f"  (info) {k} / floor: {med[k] / med[floor_key]:.3f}x (same bar would be <= {BAR}x)")
    print(f"  {'PASS' if clean else 'FAIL'}  light commands never import llama_cpp")
    return 0 if ok_line.startswith("PASS") and clean else 1


if __name__ == "__main__":
    sys.exit(main())
