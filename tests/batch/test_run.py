"""`oruel run` on the real model, driven as a user would: the real CLI in a subprocess."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.shared_data import PROMPTS

pytestmark = pytest.mark.model


def oruel(*args: str, stdin: str | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oruel_cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def by_id(path: Path) -> dict[str, dict]:
    return {r.get("custom_id", r["id"]): r for r in records(path)}


def test_three_forms_bad_lines_and_per_line_params(tmp_path):
    jobs = write_jsonl(
        tmp_path / "jobs.jsonl",
        [
            {"id": "simple", "prompt": "What is 2 + 2?", "max_tokens": 3},
            {"messages": [{"role": "user", "content": "Name a color."}]},
            "",
            {
                "custom_id": "openai-1",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": "gpt-4o-mini",
                    "messages": [{"role": "user", "content": "Say hi"}],
                    "max_completion_tokens": 4,
                },
            },
            "this is not json",
            {"prompt": "x", "temprature": 0.5},
            {"prompt": "x", "top_k": 500},
            {"id": "simple", "prompt": "again"},
            {"id": "long", "prompt": "word " * 300},
        ],
    )
    res = oruel("run", str(jobs), "--max-tokens", "6", "--temperature", "0", "--ctx", "256")
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    out = by_id(tmp_path / "jobs.results.jsonl")
    assert len(records(tmp_path / "jobs.results.jsonl")) == 8  # one per non-blank line

    simple = out["simple"]
    assert simple["error"] is None and simple["finish_reason"] == "length"
    assert simple["usage"]["completion_tokens"] == 3  # the line's 3 beats the flag's 6
    assert simple["params"]["max_tokens"] == 3 and simple["params"]["temperature"] == 0
    assert out["line-2"]["usage"]["completion_tokens"] == 6  # the flag's value
    oa = out["openai-1"]
    assert oa["error"] is None and oa["response"]["status_code"] == 200
    body = oa["response"]["body"]
    assert body["object"] == "chat.completion" and body["model"] == "gpt-4o-mini"
    assert body["usage"]["completion_tokens"] == 4  # max_completion_tokens alias

    expected_errors = {
        "line-5": ("invalid_json", 5),
        "line-6": ("unknown_parameter", 6),
        "line-7": ("invalid_parameter", 7),
        "line-8": ("duplicate_id", 8),
        "long": ("context_length_exceeded", 9),
    }
    for rid, (code, line_no) in expected_errors.items():
        err = out[rid]["error"]
        assert (err["code"], err["line"]) == (code, line_no), out[rid]
        assert out[rid]["output"] is None
    assert "did you mean temperature" in out["line-6"]["error"]["message"]
    assert "top_k" in out["line-7"]["error"]["message"]


def test_existing_output_is_never_overwritten_silently(tmp_path):
    jobs = write_jsonl(tmp_path / "j.jsonl", [{"prompt": "hi", "max_tokens": 2}])
    out = tmp_path / "j.results.jsonl"
    out.write_bytes(b'{"id": "precious"}\n{"torn')
    before = out.read_bytes()
    res = oruel("run", str(jobs))
    assert res.returncode == 2 and "--resume" in res.stderr and "--overwrite" in res.stderr
    assert out.read_bytes() == before
    assert oruel("run", str(jobs), "--resume", "--overwrite").returncode == 2
    assert oruel("run", str(jobs), "--resume", "-o", "-").returncode == 2
    assert out.read_bytes() == before
    assert oruel("run", str(tmp_path / "missing.jsonl")).returncode == 2


def count_records(path: Path) -> int:
    """Whole records written so far (a torn last line does not count)."""
    if not path.exists():
        return 0
    return path.read_bytes().count(b"\n")


@pytest.mark.parametrize("kill_after", [(1, 5, 9)])
def test_kill_9_and_resume_leave_every_id_once(tmp_path, kill_after):
    """Killed three times, each time once more records are on disk than before."""
    from support.watch import wait_until

    rows = [
        {"id": f"q{i}", "prompt": f"Write two sentences about the number {i}.", "max_tokens": 40}
        for i in range(24)
    ]
    jobs = write_jsonl(tmp_path / "k.jsonl", rows)
    out = tmp_path / "k.results.jsonl"
    cmd = [sys.executable, "-m", "oruel_cli", "run", str(jobs), "--parallel", "4"]
    for n, records_before_kill in enumerate(kill_after):
        args = cmd + (["--resume"] if n else [])
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)  # fmt: skip
        try:
            wait_until(lambda k=records_before_kill, p=proc: count_records(out) >= k or p.poll() is not None,
                       f"{records_before_kill} records")  # fmt: skip
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        for line in out.read_text().splitlines()[:-1]:
            json.loads(line)  # every line but a possibly torn last one is whole
    assert count_records(out) < len(rows)  # the kills did land mid-job
    res = oruel("run", str(jobs), "--resume", "--parallel", "4")
    assert res.returncode == 0, res.stderr
    recs = records(out)  # every line whole JSON
    ids = [r["id"] for r in recs]
    assert sorted(ids) == sorted(r["id"] for r in rows)  # each id exactly once
    assert all(r["error"] is None for r in recs)


def test_sigint_stops_cleanly_with_130_and_resume_completes(tmp_path):
    from support.watch import finish, start, wait_until

    rows = [{"id": f"s{i}", "prompt": f"Count to {i + 5}.", "max_tokens": 60} for i in range(20)]
    jobs = write_jsonl(tmp_path / "s.jsonl", rows)
    out = tmp_path / "s.results.jsonl"
    proc, stdout, stderr = start(
        [sys.executable, "-m", "oruel_cli", "run", str(jobs), "--parallel", "2"]
    )
    wait_until(lambda: count_records(out) >= 1, "the first record")
    proc.send_signal(signal.SIGINT)
    rc, _, err = finish(proc, stdout, stderr)
    assert rc == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert count_records(out) < len(rows)
    res = oruel("run", str(jobs), "--resume")
    assert res.returncode == 0
    assert sorted(by_id(out)) == sorted(r["id"] for r in rows)


def test_a_sigint_ignored_from_the_start_stays_ignored_and_sigterm_still_stops(tmp_path):
    """A shell starts a script's background job with SIGINT ignored: the job goes
    on through a SIGINT, and SIGTERM still ends it with 130."""
    from support.watch import finish, start, wait_until

    rows = [{"id": f"i{i}", "prompt": f"Count to {i + 5}.", "max_tokens": 60} for i in range(20)]
    jobs = write_jsonl(tmp_path / "i.jsonl", rows)
    out = tmp_path / "i.results.jsonl"
    proc, stdout, stderr = start(
        [sys.executable, "-m", "oruel_cli", "run", str(jobs), "--parallel", "2"],
        ignore_sigint=True,
    )
    wait_until(lambda: count_records(out) >= 1, "the first record")
    proc.send_signal(signal.SIGINT)
    after = count_records(out)
    # a Ctrl-C that was heard ends the job with no new record (the lines in
    # flight are dropped); records keep coming while it is ignored
    wait_until(
        lambda: count_records(out) >= after + 3 or proc.poll() is not None,
        "three records after the SIGINT",
    )
    assert proc.poll() is None, "the SIGINT stopped a job that started with it ignored"
    proc.send_signal(signal.SIGTERM)
    rc, _, err = finish(proc, stdout, stderr)
    assert rc == 130, err
    assert "Traceback" not in err
    assert count_records(out) < len(rows)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_while_loading_exits_130_with_one_line_and_writes_nothing(tmp_path, sig):
    """A Ctrl-C inside llama.cpp's log callback (it runs Python during the load,
    which `-v` shows) used to be swallowed by ctypes, and the job ran on."""
    from support.watch import finish, start

    jobs = write_jsonl(
        tmp_path / "l.jsonl", [{"prompt": "Write a long essay.", "max_tokens": 300}] * 8
    )
    proc, stdout, stderr = start([sys.executable, "-m", "oruel_cli", "run", "-v", str(jobs)])
    stderr.wait_for("llama_model_loader", "the model load")
    proc.send_signal(sig)
    rc, _, err = finish(proc, stdout, stderr)
    assert rc == 130, err
    assert "oruel: interrupted" in err
    assert "Traceback" not in err and "Exception ignored" not in err
    out = tmp_path / "l.results.jsonl"
    assert not out.exists() or count_records(out) == 0


def test_json_object_lines_that_never_ask_for_json_get_one_warning(tmp_path):
    json_mode = {"response_format": {"type": "json_object"}, "max_tokens": 8}
    rows = [
        {"id": "plain", "prompt": "Name a colour.", "max_tokens": 4},
        {"id": "unasked", "prompt": "Name a colour.", **json_mode},
        {"id": "asked", "prompt": "Name a colour, as JSON.", **json_mode},
        {"id": "unasked2", "messages": [{"role": "user", "content": "Hi"}], **json_mode},
    ]
    res = oruel("run", str(write_jsonl(tmp_path / "j.jsonl", rows)))
    assert res.returncode == 0, res.stderr
    assert sorted(by_id(tmp_path / "j.results.jsonl")) == sorted(r["id"] for r in rows)
    err = " ".join(res.stderr.split())  # the console may wrap the line
    assert err.count("mentions JSON") == 1
    assert "warning: 2 line(s) set response_format json_object" in err and "(line 2, 4)" in err


@pytest.fixture(scope="module")
def greedy_runs(tmp_path_factory):
    """The same greedy job at --parallel 1, and `oruel ask` for each prompt.

    (--parallel 8 against 1 is compared in-process, with the logit gaps, in
    test_batch_engine.py.)"""
    tmp = tmp_path_factory.mktemp("greedy")
    rows = [{"id": f"p{i}", "prompt": p} for i, p in enumerate(PROMPTS)]
    jobs = write_jsonl(tmp / "g.jsonl", rows)
    outputs = {}
    env_args = ["--temperature", "0", "--max-tokens", "32"]
    for n in (1,):
        path = tmp / f"g{n}.jsonl"
        res = oruel("run", str(jobs), "-o", str(path), "--parallel", str(n), *env_args)
        assert res.returncode == 0, res.stderr
        outputs[n] = {k: v["output"] for k, v in by_id(path).items()}
    outputs["ask"] = {}
    for row in rows:
        res = oruel("ask", *env_args, row["prompt"])
        assert res.returncode == 0, res.stderr
        outputs["ask"][row["id"]] = res.stdout.removesuffix("\n")
    return outputs


def test_greedy_batch_equals_ask(greedy_runs):
    assert greedy_runs[1] == greedy_runs["ask"]


def test_a_chat_template_that_breaks_is_the_lines_template_error(tmp_path):
    """A model whose template fails on every line: each line's record says it
    is the model file's fault (template_error), not a bad parameter."""
    from support.template_gguf import with_chat_template

    broken = with_chat_template(tmp_path / "broken.gguf", b"{{ messages[0].content.nope() }}")
    jobs = write_jsonl(tmp_path / "jobs.jsonl", [{"id": "a", "prompt": "hi", "max_tokens": 2}])
    res = oruel("run", "-m", str(broken), str(jobs))
    assert res.returncode == 1, res.stderr
    (rec,) = records(tmp_path / "jobs.results.jsonl")
    assert rec["error"]["code"] == "template_error", rec
    assert "chat template" in rec["error"]["message"] and str(broken) in rec["error"]["message"]


@pytest.mark.parametrize(
    ("flags", "state"), [((), "disabled"), (("--flash-attn", "on"), "enabled")]
)
def test_flash_attention_is_what_the_flag_says(tmp_path, flags, state):
    """On the CPU flash attention stays off unless --flash-attn on asks for it
    (RuntimeSettings.flash_attn says why); llama.cpp's own report of the
    context it made (-v) is the witness, and the job still answers."""
    import re

    from oruel_cli.engine.loader import gpu_offload_supported

    if gpu_offload_supported() and not flags:
        pytest.skip("with layers offloaded, auto is llama.cpp's own choice")
    jobs = write_jsonl(tmp_path / "j.jsonl", [{"id": "a", "prompt": "hi", "max_tokens": 4}])
    res = oruel("run", "-v", "--parallel", "2", *flags, "-o", "-", str(jobs))
    assert res.returncode == 0, res.stderr
    assert re.findall(r"llama_context: flash_attn\s+=\s+(\w+)", res.stderr) == [state]
    (rec,) = [json.loads(line) for line in res.stdout.splitlines()]
    assert rec["usage"]["completion_tokens"] >= 1 and rec["output"]
