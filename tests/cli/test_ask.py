"""`oruel ask` end to end on the real model: the real CLI in a subprocess."""

from __future__ import annotations

import io
import json
import re
import shutil
import signal
import subprocess
import sys

import pytest
from support.cli_proc import oruel
from support.template_gguf import with_chat_template

from oruel_cli.models.resolve import embedded_model_path

pytestmark = pytest.mark.model

GREEDY = ["--temperature", "0", "--max-tokens", "12"]


def test_piped_reply_is_plain_text_and_stats_go_to_stderr():
    res = oruel("ask", *GREEDY, "Write a long story about a fox.")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() and "\x1b[" not in res.stdout
    assert "12 tokens" in res.stderr and "finish: length" in res.stderr
    # chat's stats line, less the context part (ask sizes its context to the request)
    stats = re.search(
        r"^12 tokens · [\d.]+ tok/s · first token [\d.]+ s · prompt (\d+) new \+ 0 cached"
        r" · finish: length$",
        res.stderr,
        re.M,
    )
    assert stats and int(stats.group(1)) > 0, res.stderr


def test_stdin_prompt_and_stdin_plus_prompt():
    direct = oruel("ask", *GREEDY, "What is 2 + 2?").stdout
    assert oruel("ask", *GREEDY, stdin="What is 2 + 2?\n").stdout == direct
    assert oruel("ask", *GREEDY, "-", stdin="What is 2 + 2?").stdout == direct
    alone = json.loads(oruel("ask", *GREEDY, "--output-json", "Summarize.").stdout)
    both = json.loads(
        oruel("ask", *GREEDY, "--output-json", "Summarize.", stdin="Cats purr.").stdout
    )
    assert both["usage"]["prompt_tokens"] > alone["usage"]["prompt_tokens"]


def test_empty_stdin_changes_nothing():
    direct = oruel("ask", *GREEDY, "Name a fruit.").stdout
    assert oruel("ask", *GREEDY, "Name a fruit.", stdin="").stdout == direct


def test_output_json_is_a_chat_completion():
    res = oruel("ask", *GREEDY, "--output-json", "Write a long story about a fox.")
    obj = json.loads(res.stdout)
    assert obj["object"] == "chat.completion"
    choice = obj["choices"][0]
    assert choice["finish_reason"] == "length" and choice["message"]["role"] == "assistant"
    assert obj["usage"]["completion_tokens"] == 12
    assert obj["usage"]["total_tokens"] == obj["usage"]["prompt_tokens"] + 12


def test_json_mode_parses_and_warns_without_json_in_the_prompt():
    res = oruel("ask", "--json", "--temperature", "0", "--max-tokens", "200", "Describe a dog.")
    assert res.returncode == 0
    assert "mentions JSON" in res.stderr
    assert isinstance(json.loads(res.stdout), dict)


def test_forced_tool_call_prints_the_call(tmp_path):
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([{"type": "function", "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]},
    }}]))  # fmt: skip
    res = oruel("ask", "--tools", str(tools), "--tool-choice", "get_weather", "--output-json",
                "--temperature", "0", "--max-tokens", "60", "Weather in Oslo?")  # fmt: skip
    obj = json.loads(res.stdout)
    choice = obj["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "get_weather"
    assert isinstance(json.loads(call["function"]["arguments"])["city"], str)


def test_bad_model_files_exit_1_with_one_line(tmp_path):
    missing = tmp_path / "missing.gguf"
    notgguf = tmp_path / "notes.gguf"
    notgguf.write_text("hello, not a model\n")
    truncated = tmp_path / "cut.gguf"
    with open(embedded_model_path(), "rb") as f:
        truncated.write_bytes(f.read(2_000_000))
    for path, words in ((missing, "not found"), (notgguf, "not a GGUF"), (truncated, "truncated")):
        res = oruel("ask", "-m", str(path), "hi")
        assert res.returncode == 1, res.stderr
        assert words in res.stderr and str(path) in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


def test_a_chat_template_the_sandbox_stops_is_the_model_files_fault(tmp_path):
    """A GGUF whose template reaches for Python internals (CVE-2024-34359): the
    sandbox stops it, and it is a runtime failure naming the file (exit 1), not a
    usage error: the user typed nothing wrong."""
    evil = with_chat_template(
        tmp_path / "evil.gguf",
        b"{{ cycler.__init__.__globals__.os.popen('touch " + str(tmp_path / "pwned").encode()
        + b"').read() }}",
    )  # fmt: skip
    res = oruel("ask", "-m", str(evil), *GREEDY, "hi")
    assert res.returncode == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert lines[0].startswith("oruel: error: ") and str(evil) in lines[0]
    assert "sandbox" in lines[0] and res.stdout == ""
    assert not (tmp_path / "pwned").exists()


def test_a_chat_template_that_is_not_utf8_is_the_model_files_fault(tmp_path):
    bad = with_chat_template(tmp_path / "latin1.gguf", b"{{ 'caf\xe9' }}")
    res = oruel("ask", "-m", str(bad), *GREEDY, "hi")
    assert res.returncode == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert lines[0].startswith("oruel: error: ") and str(bad) in lines[0]
    assert "not UTF-8" in lines[0] and "internal error" not in lines[0]


def test_unknown_model_name_is_a_usage_error():
    res = oruel("ask", "-m", "no-such-model", "hi")
    assert res.returncode == 2 and "no-such-model" in res.stderr


def test_prompt_that_alone_does_not_fit_is_exit_1():
    res = oruel("ask", "--ctx", "64", "word " * 200)
    assert res.returncode == 1
    assert "does not fit the context" in res.stderr and "Traceback" not in res.stderr


def test_show_params_names_sources_and_repack():
    res = oruel("ask", *GREEDY, "--show-params", "-p", "qa", "hi")
    assert "temperature = 0.0 (flag)" in res.stderr
    assert "top_p = 0.9 (preset qa)" in res.stderr
    assert "repack = " in res.stderr


def test_repack_off_forced_through_the_config_still_answers(tmp_path):
    config = tmp_path / "cfg.yaml"
    config.write_text("runtime:\n  repack: off\n")
    res = oruel("ask", *GREEDY, "--show-params", "hi", env={"ORUEL_CONFIG": str(config)})
    assert res.returncode == 0 and res.stdout.strip()
    assert "repack = off (config)" in res.stderr


# The moments a signal can come, each waited for as the process shows it:
# its imports (`-X importtime` prints each import as it ends: typer.colors is
# among the first the CLI imports, after installing its signal flags), the
# command's own start (its lazy imports, the log's among them: a Ctrl-C there
# once ended in a death by SIGINT after the line was printed), the model load
# (`-v` shows llama.cpp's log), and generation (the first streamed text).
MOMENTS = {
    "importing": (["-X", "importtime"], [], "err", "typer.colors"),
    "starting": (["-X", "importtime"], [], "err", "oruel_cli.logs.conversation"),
    "loading": ([], ["-v"], "err", "llama_model_loader"),
    "generating": ([], [], "out", None),
}


def interrupt_at(moment: str, sig: int, tmp_path) -> tuple[int, str, str]:
    """Start a long piped `oruel ask` that streams, send `sig` at `moment`."""
    from support.watch import finish, start

    py_flags, flags, pipe, needle = MOMENTS[moment]
    config = tmp_path / "stream.yaml"
    config.write_text("params:\n  stream: true\n")  # piped, the reply streams as plain text
    proc, out, err = start(
        [sys.executable, *py_flags, "-m", "oruel_cli", "ask", *flags, "--max-tokens", "4000",
         "Write a long essay."],
        env={"ORUEL_CONFIG": str(config)},
    )  # fmt: skip
    watched = out if pipe == "out" else err
    if needle is None:
        watched.wait_any(f"the first text at the {moment} moment")
    else:
        watched.wait_for(needle, f"{needle!r} on std{pipe}")
    proc.send_signal(sig)
    return finish(proc, out, err)


def test_a_sigint_ignored_from_the_start_does_not_stop_the_reply(tmp_path):
    """Started with SIGINT ignored (a shell script's background job), ask keeps it
    ignored while it generates, where it otherwise catches a Ctrl-C to cut the
    reply; SIGTERM still cuts it (130)."""
    from support.watch import finish, start, wait_until

    config = tmp_path / "stream.yaml"
    config.write_text("params:\n  stream: true\n")
    proc, out, err = start(
        [sys.executable, "-m", "oruel_cli", "ask", "--max-tokens", "4000", "Write a long essay."],
        env={"ORUEL_CONFIG": str(config)},
        ignore_sigint=True,
    )
    out.wait_any("the first text")
    proc.send_signal(signal.SIGINT)
    seen = len(out.text)
    wait_until(lambda: len(out.text) > seen + 200 or proc.poll() is not None, "more text")
    assert proc.poll() is None, "the SIGINT cut a reply that started with it ignored"
    proc.send_signal(signal.SIGTERM)
    rc, _, err_text = finish(proc, out, err)
    assert rc == 130, err_text
    assert "finish: cancelled" in err_text


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_generation_keeps_the_reply_and_exits_130(sig, tmp_path):
    rc, out, err = interrupt_at("generating", sig, tmp_path)
    assert rc == 130
    assert out.strip()  # what was generated is kept
    assert "finish: cancelled" in err
    assert err.strip().splitlines()[-1] == "oruel: interrupted"
    assert "Traceback" not in err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("moment", ["importing", "starting", "loading"])
def test_ctrl_c_or_sigterm_at_any_moment_is_one_line_and_130(moment, sig, tmp_path):
    """While importing, or loading the model (llama.cpp's log callback runs
    Python): never a traceback, never 'Exception ignored'."""
    rc, _, err = interrupt_at(moment, sig, tmp_path)
    assert rc == 130, err
    assert "oruel: interrupted" in err
    assert "Traceback" not in err and "Exception ignored" not in err


def in_a_terminal(args: str, rows: int, env: dict | None = None) -> str:
    """Run `oruel ask ARGS` on a pseudo-terminal of `rows` x 80 (util-linux script),
    as a colour terminal whatever the caller's TERM or NO_COLOR (`env` adds to it)."""
    from support.terminal import terminal_env

    cmd = f"{sys.executable} -m oruel_cli ask {args}"
    res = subprocess.run(
        ["script", "-qec", cmd, "/dev/null"],
        capture_output=True, timeout=300, stdin=subprocess.DEVNULL,
        env=terminal_env(rows, 80, **(env or {})),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return res.stdout.decode("utf-8", "replace")


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux script for a TTY")
def test_a_streamed_reply_taller_than_the_terminal_shows_each_line_once():
    """Streamed Markdown on a 12-line terminal ends up exactly as the same reply
    rendered whole (--no-stream): nothing reprinted, nothing lost."""
    from support.terminal import replay

    args = "--temperature 0 --max-tokens 240 'Give a markdown list of tips for learning Python.'"
    streamed = replay(in_a_terminal(args, 12), 80, 12, tty=True)
    whole = replay(in_a_terminal("--no-stream " + args, 12), 80, 12, tty=True)

    def text(lines: list[str]) -> list[str]:  # the reply: no leading blank, no stats line
        # The stats line comes last and may wrap on 80 columns (where depends on its figures).
        end = next((i for i, line in enumerate(lines) if "tok/s" in line), len(lines))
        lines = lines[:end]
        return lines[next(i for i, line in enumerate(lines) if line) :]

    assert len(text(whole)) > 12  # taller than the screen
    assert text(streamed) == text(whole)


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux script for a TTY")
def test_terminal_output_is_rendered_and_no_color_is_plain():
    args = "--temperature 0 --max-tokens 40 'Give a markdown list of tips for learning Python.'"
    rendered = in_a_terminal(args, 24)
    plain = in_a_terminal(args, 24, env={"NO_COLOR": "1"})
    assert "\x1b[" in rendered.split("tokens ·")[0]  # Markdown styling or live redraws
    body = plain.split("\x1b[")[0]  # the stats line on stderr is dim
    assert body.strip() and "\x1b" not in body
    assert any(line.lstrip().startswith(("-", "*", "1.")) for line in body.splitlines())


def test_a_context_sized_to_the_request_gives_the_same_reply():
    """Without --ctx, a capped ask allocates only prompt + max_tokens of KV cache."""
    args = ["--temperature", "0", "--max-tokens", "40", "Write a long story about a fox."]
    sized = oruel("ask", *args)
    full = oruel("ask", "--ctx", "8192", *args)
    assert sized.returncode == full.returncode == 0
    assert sized.stdout == full.stdout and sized.stdout.strip()


def test_local_runs_one_command_on_the_local_model_despite_the_configs_endpoints(tmp_path):
    """With `endpoints:` in the config (here a dead one), --local runs on the
    local model; without it the command goes to the endpoint."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    config = tmp_path / "cfg.yaml"
    config.write_text(f"endpoints:\n  - url: http://127.0.0.1:{dead}/v1\n")
    env = {"ORUEL_CONFIG": str(config)}
    remote = oruel("ask", *GREEDY, "Name a fruit.", env=env)
    assert remote.returncode == 1 and f"127.0.0.1:{dead}" in remote.stderr
    local = oruel("ask", "--local", *GREEDY, "Name a fruit.", env=env)
    assert local.returncode == 0, local.stderr
    assert local.stdout == oruel("ask", *GREEDY, "Name a fruit.").stdout
    both = oruel("ask", "--local", "--endpoint", f"http://127.0.0.1:{dead}", "hi", env=env)
    assert both.returncode == 2 and "--local" in both.stderr and "--endpoint" in both.stderr


def test_ctrl_c_in_a_terminal_shows_what_was_streamed_once(tmp_path):
    """Ctrl-C typed while a reply streams on a 30 x 100 terminal: the unfinished
    line stays, once (the terminal's "^C" echo must not land in the redrawn
    region), then the stats line; exit 130."""
    pexpect = pytest.importorskip("pexpect")
    from support.terminal import replay, terminal_env

    child = pexpect.spawn(
        sys.executable,
        ["-m", "oruel_cli", "ask", "--temperature", "0", "--max-tokens", "300",
         "Write a long story about a fox in the forest."],
        env=terminal_env(30, 100), dimensions=(30, 100), encoding="utf-8",
        codec_errors="replace", timeout=240,
    )  # fmt: skip
    seen = io.StringIO()
    child.logfile_read = seen  # everything the terminal received
    child.expect("upon")  # the reply is streaming, its first line unfinished
    child.sendintr()  # the key, through the terminal, as a person types it
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130, child.before
    screen = replay(seen.getvalue(), 100, 30, tty=True)
    stats = next(i for i, line in enumerate(screen) if "finish: cancelled" in line)
    reply = [line for line in screen[:stats] if line.strip()]
    assert reply and sum("Once upon" in line for line in reply) == 1, screen
    assert all("^C" not in line for line in screen), screen
