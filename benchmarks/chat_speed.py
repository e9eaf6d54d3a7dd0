"""Chat speed: a scripted 10-turn conversation in one `oruel chat`, against the
same conversation sent as whole prompts to a fresh context each turn.

(a) one `oruel chat` process, its 10 messages piped (greedy, --max-tokens N):
    the stats line of each turn gives the time to first token and the prompt
    tokens decoded (new) and reused from the KV cache (cached). Bar: turn
    10's time to first token <= 1.2x turn 1's.
(b) what a tool without cache reuse pays: for each turn k, a fresh `oruel
    chat` process that /loads the first k-1 exchanges of (a) (the very same
    replies) and sends message k, so its whole prompt is decoded in a fresh
    context; and, for reference, llama-completion on the same ChatML prompt
    (its "prompt eval time"). Both must see the same prompt as (a).

Each round runs (a), then the (b) processes, each after the quiet gate; the
figures are medians over the rounds.

    .venv/bin/python benchmarks/chat_speed.py [--threads 2] [--runs 3] [--repack auto]
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    GATE,
    SMOLLM2_SYSTEM,
    Row,
    bench_parser,
    describe_host,
    model_path,
    oruel_exe,
    parse_bench_args,
    print_table,
    run_checked,
    tool,
    tools_dir,
    verdict,
)

BAR = 1.2
MESSAGES = [
    "Hi! I am planning a week in Italy in May. Can you help me?",
    "Which three cities should I visit?",
    "Tell me more about the first one.",
    "What food should I try there?",
    "How do I get from there to the second city?",
    "What is the weather like in May?",
    "What should I pack?",
    "Give me one useful Italian phrase.",
    "How much should I budget per day?",
    "Summarize my plan in two sentences.",
]
STATS_RE = re.compile(
    r"(\d+) tokens · [\d.]+ tok/s · first token ([\d.]+) s · prompt (\d+) new \+ (\d+) cached"
)
PERF_RE = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")


def stats(stderr: str) -> list[tuple[float, int, int]]:
    """(time to first token, new, cached) of each turn, from the stats lines."""
    return [(float(m[2]), int(m[3]), int(m[4])) for m in STATS_RE.finditer(stderr)]


def piped(cmd: list[str], text: str, env: dict[str, str]) -> str:
    """Run with `text` on stdin; stderr (where the stats lines go). Exits on failure."""
    proc = subprocess.run(cmd, input=text, capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:
        sys.exit(f"error: exit {proc.returncode}: {shlex.join(cmd)}\n{proc.stderr[-4000:]}")
    return proc.stderr


def chatml(messages: list[dict[str, str]]) -> str:
    """The default model's template (ChatML, its default system prompt), as oruel renders it."""
    text = f"<|im_start|>system\n{SMOLLM2_SYSTEM}<|im_end|>\n"
    for m in messages:
        text += f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n"
    return text + "<|im_start|>assistant\n"


def main() -> int:
    ap = bench_parser(__doc__, 3, "rounds, >= 3")
    ap.add_argument("--max-tokens", type=int, default=64, help="reply length cap per turn")
    ap.add_argument("--no-llama", action="store_true", help="skip the llama-completion column")
    args, repack = parse_bench_args(ap)
    runs, t, n = max(args.runs, 3), args.threads, args.max_tokens
    setting = f"{repack.label}, threads={t}"
    oruel = oruel_exe()
    model = model_path()
    use_llama = not args.no_llama and (tools_dir() / "llama-completion").exists()
    flags = ["--temperature", "0", "--max-tokens", str(n), "--threads", str(t)]
    flags += repack.oruel_args()
    work = Path(tempfile.mkdtemp(prefix="oruel-chat-bench-"))
    env = {**os.environ, "ORUEL_DATA_DIR": str(work / "data")}

    print("oruel chat speed benchmark")
    print(describe_host())
    print(f"model: {model}")
    print(f"setting: {setting}; --max-tokens {n}; load average at start: {os.getloadavg()[0]:.2f}")

    def chat(script: list[str]) -> list[tuple[float, int, int]]:
        GATE.wait()
        return stats(piped([oruel, "chat", *flags], "\n".join(script) + "\n", env))

    saved = work / "conversation.json"
    chat_turns: list[list[tuple[float, int, int]]] = []
    fresh_turns: list[list[tuple[float, int, int]]] = []
    llama_turns: list[list[tuple[float, int]]] = []
    replies: list[str] | None = None
    for r in range(runs):
        print(f"  round {r + 1} of {runs}...", file=sys.stderr, flush=True)
        got = chat([*MESSAGES, f"/save {saved}"])
        if len(got) != len(MESSAGES):
            sys.exit(f"error: {len(got)} stats lines for {len(MESSAGES)} messages")
        chat_turns.append(got)
        conv = json.loads(saved.read_text())
        these = [m["content"] for m in conv["messages"] if m["role"] == "assistant"]
        if replies is not None and these != replies:
            print("  note: the greedy replies differed between rounds")
        replies = these
        fresh_row: list[tuple[float, int, int]] = []
        llama_row: list[tuple[float, int]] = []
        for k in range(len(MESSAGES)):
            history = conv["messages"][: 2 * k]
            hist = work / f"turn{k + 1}.json"
            hist.write_text(json.dumps({**conv, "messages": history}))
            fresh_row += chat([f"/load {hist}", MESSAGES[k]])
            if use_llama:
                prompt = chatml([*history, {"role": "user", "content": MESSAGES[k]}])
                cmd = [tool("llama-completion"), "-no-cnv", "--temp", "0", "-n", "1", "-t", str(t)]
                cmd += ["-m", str(model), "-p", prompt, *repack.tool_args("llama-completion")]
                GATE.wait()
                m = PERF_RE.search(run_checked(cmd).stderr)
                if not m:
                    sys.exit("error: no 'prompt eval time' in llama-completion's log")
                llama_row.append((float(m[1]) / 1000, int(m[2])))
        fresh_turns.append(fresh_row)
        llama_turns.append(llama_row)
    shutil.rmtree(work, ignore_errors=True)

    def med(rows: list[list[tuple]], k: int, i: int) -> float:
        return statistics.median(r[k][i] for r in rows)

    print(f"\nper turn, medians of {runs} rounds (first token in seconds; prompt tokens)")
    head = "  turn  prompt   chat: new  cached  first token   fresh: new  first token"
    print(head + ("   llama-completion prompt eval" if use_llama else ""))
    for k in range(len(MESSAGES)):
        new, cached = med(chat_turns, k, 1), med(chat_turns, k, 2)
        line = (
            f"  {k + 1:>4}  {new + cached:>6.0f}  {new:>10.0f}  {cached:>6.0f}  "
            f"{med(chat_turns, k, 0):>9.3f} s  {med(fresh_turns, k, 1):>11.0f}  "
            f"{med(fresh_turns, k, 0):>9.3f} s"
        )
        if use_llama:
            line += f"   {med(llama_turns, k, 0):>9.3f} s ({med(llama_turns, k, 1):.0f} tokens)"
        print(line)

    first, last = med(chat_turns, 0, 0), med(chat_turns, -1, 0)
    fresh_last = med(fresh_turns, -1, 0)
    rows = [
        Row("oruel chat turn 1: first token", first, "s", None, setting),
        Row("oruel chat turn 10: first token", last, "s", last / first, setting),
        Row("fresh context turn 10 (oruel chat /load), info", fresh_last, "s", fresh_last / first, setting),
    ]  # fmt: skip
    if use_llama:
        ll = med(llama_turns, -1, 0)
        rows.append(Row("llama-completion turn 10 prompt eval, info", ll, "s", ll / first, setting))
    print_table("time to first token", rows, "x turn 1")

    print("\nchecks:")
    same = all(
        med(chat_turns, k, 1) + med(chat_turns, k, 2) == med(fresh_turns, k, 1)
        and all(r[k][2] == 0 for r in fresh_turns)
        for k in range(len(MESSAGES))
    )
    print(f"  fresh runs decode the chat's whole prompt (no cache): {'yes' if same else 'NO'}")
    reused = all(med(chat_turns, k, 2) > med(chat_turns, k, 1) for k in range(1, len(MESSAGES)))
    print(f"  from turn 2 on, the chat reads more of its prompt from the cache than it decodes: "
          f"{'yes' if reused else 'NO'}")  # fmt: skip
    if use_llama:
        ll_same = all(
            med(llama_turns, k, 1) == med(fresh_turns, k, 1) for k in range(len(MESSAGES))
        )
        print(f"  llama-completion sees the same prompt tokens: {'yes' if ll_same else 'NO'}")
    else:
        print("  llama-completion: skipped (not built; benchmarks/build_llama_tools.sh)")
    print(f"  load average at end: {os.getloadavg()[0]:.2f}; {GATE.summary()}")
    print("\nverdicts:")
    line = verdict("chat, turn 10 / turn 1 time to first token", last / first, BAR, False)
    print("  " + line)
    return 0 if line.startswith("PASS") and same and reused else 1


if __name__ == "__main__":
    sys.exit(main())
