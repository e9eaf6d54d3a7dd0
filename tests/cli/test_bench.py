"""`oruel bench` on the real model: every row measured, the runtime named."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.model


def test_bench_measures_prompt_single_and_batched_decode():
    res = subprocess.run(
        [sys.executable, "-m", "oruel_cli", "bench", "--tokens", "8", "--prompt-tokens", "16"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    rows = [
        [cell.strip() for cell in line.strip("│ ").split("│")]
        for line in res.stdout.splitlines()
        if line.startswith("│")
    ]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("pp16", "1", "16"),
        ("tg8", "1", "8"),
        ("tg8", "4", "32"),
        ("tg8", "8", "64"),
        ("tg8", "16", "128"),
    ]
    assert all(float(r[4]) > 0 for r in rows)  # tokens/s
    assert rows[1][5] == "1.00" and all(float(r[5]) > 0 for r in rows[2:])  # x 1 sequence
    from oruel_cli.engine.loader import gpu_offload_supported

    header = " ".join(res.stderr.split())
    fa = "auto" if gpu_offload_supported() else "off"  # all layers offloaded, else none
    assert "repack " in header and f"flash attention {fa}" in header


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_during_the_load_is_one_line_and_130(sig):
    """As in ask and run: the load runs Python in llama.cpp's log callback, where
    a KeyboardInterrupt would be swallowed; `-v` shows when the load is under way."""
    import signal

    from support.watch import finish, start

    proc, out, err = start([sys.executable, "-m", "oruel_cli", "bench", "-v", "--single"])
    err.wait_for("llama_model_loader", "the model load")
    proc.send_signal(getattr(signal, sig))
    rc, _, text = finish(proc, out, err)
    assert rc == 130, text
    assert text.rstrip().splitlines()[-1] == "oruel: interrupted"
    assert "Traceback" not in text and "Exception ignored" not in text
