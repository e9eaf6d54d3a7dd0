"""A Ctrl-C or SIGTERM whose KeyboardInterrupt a library loses still stops oruel
with exit 130 and one line (signals.py): pydantic-core's Rust wraps one raised
during its schema building in a SchemaError (seen: `oruel: internal error:
SchemaError ... KeyboardInterrupt`, exit 1) or drops it, and Python drops
one raised in a ctypes callback or a finalizer (seen: a SIGTERM at start-up lost,
the reply ran to its end).

Each case is a real `oruel ask` (or `oruel run`) process whose config loading
(or record writing) goes through a stand-in for such a library: it signals its
own process and loses the KeyboardInterrupt the handler raises, in one of the
three ways. In a batch job the loss is real: llama.cpp logs through its ctypes
callback whenever a decode rebuilds its graph (seen: a Ctrl-C lost, the job ran
to its end)."""

from __future__ import annotations

import signal
import sys

import pytest

from oruel_cli.signals import forget_stop, quiet_unraisable, raise_interrupt, stop_pending

LOSING_LIBRARY = """
import ctypes, signal, sys
import oruel_cli.config as config
from oruel_cli.entry import main

how, sig = sys.argv[1], int(sys.argv[2])
real = config.load_config

def signal_myself():
    signal.raise_signal(sig)  # to this thread; its handler runs before this returns

def load_config(*args, **kwargs):
    if how == "ctypes":  # raised inside a C callback: Python prints it, goes on
        compare = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
        def cmp(a, b):
            signal_myself()
            return 0
        libc = ctypes.CDLL(None)
        items = (ctypes.c_int * 2)(2, 1)
        libc.qsort(items, 2, ctypes.sizeof(ctypes.c_int), compare(cmp))
    else:
        try:
            signal_myself()
        except BaseException:
            if how == "wrapped":  # as pydantic-core's SchemaError does
                raise RuntimeError("Error building validator: KeyboardInterrupt") from None
            # "dropped": as Rust code that ignores a Python error does
    return real(*args, **kwargs)

config.load_config = load_config
sys.argv = ["oruel", "ask", "--max-tokens", "4000", "Write a long essay."]
main()
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("how", ["ctypes", "dropped", "wrapped"])
def test_a_lost_keyboard_interrupt_still_stops_with_130(how, sig):
    from support.watch import finish, start

    proc, out, err = start([sys.executable, "-c", LOSING_LIBRARY, how, str(int(sig))])
    rc, stdout, stderr = finish(proc, out, err)
    assert rc == 130, stderr
    assert stderr.strip().splitlines()[-1] == "oruel: interrupted"
    assert "Exception ignored" not in stderr and "Traceback" not in stderr
    assert "internal error" not in stderr
    assert not stdout.strip()  # stopped before the model was loaded: no reply


def test_the_handler_remembers_a_stop_until_it_is_forgotten():
    forget_stop()
    assert not stop_pending()
    with pytest.raises(KeyboardInterrupt):
        raise_interrupt(signal.SIGTERM, None)
    assert stop_pending()
    forget_stop()  # the chat caught it on purpose and goes on
    assert not stop_pending()


class _RaisesOnDelete:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __del__(self) -> None:
        raise self.error


def test_only_a_keyboard_interrupt_is_kept_quiet(monkeypatch, capsys):
    monkeypatch.setattr(sys, "unraisablehook", quiet_unraisable)
    _RaisesOnDelete(KeyboardInterrupt())
    assert capsys.readouterr().err == ""
    _RaisesOnDelete(ValueError("a finalizer's bug"))
    err = capsys.readouterr().err
    assert "Exception ignored" in err and "a finalizer's bug" in err


LOST_IN_A_JOB = """
import signal, sys
import oruel_cli.batch.sink as sink
from oruel_cli.entry import main

jobs, sig = sys.argv[1], int(sys.argv[2])
real = sink.JobSink.succeed

def succeed(self, *args, **kwargs):
    real(self, *args, **kwargs)
    if self.stats.ok == 1:  # after the first record: lost as in llama.cpp's log callback
        try:
            signal.raise_signal(sig)  # its handler runs before this returns
        except BaseException:
            pass

sink.JobSink.succeed = succeed
sys.argv = ["oruel", "run", jobs, "--parallel", "2"]
main()
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_lost_during_a_batch_job_still_ends_it_interrupted(sig, tmp_path):
    import json

    from support.watch import finish, start

    jobs = tmp_path / "j.jsonl"
    rows = [{"id": f"j{i}", "prompt": f"Count to {i + 5}.", "max_tokens": 40} for i in range(12)]
    jobs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc, out, err = start([sys.executable, "-c", LOST_IN_A_JOB, str(jobs), str(int(sig))])
    rc, _, stderr = finish(proc, out, err)
    assert rc == 130, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    written = (tmp_path / "j.results.jsonl").read_text().splitlines()
    assert 1 <= len(written) < len(rows)
