"""`oruel serve --log`: each reply of the server is a row of the reply log (a
conversation of its own), streamed or not; without --log it keeps none."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from support.serve_proc import Server, oruel_cmd, serve_env

pytestmark = pytest.mark.model

USER = [{"role": "user", "content": "What is the capital of France?"}]


def served_rows(env: dict[str, str], want: int) -> list[dict]:
    """The log's serve rows, oldest first, once `want` are there (written off the
    event loop, so a row may land just after its reply): bounded wait."""
    deadline = time.monotonic() + 60
    while True:
        res = subprocess.run(oruel_cmd("logs", "-n", "0", "--json"), env=env,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
        assert res.returncode == 0, res.stderr
        rows = [r for r in json.loads(res.stdout)[::-1] if r["command"] == "serve"]
        if len(rows) >= want or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_serve_log_keeps_each_reply_with_its_parameters(tmp_path):
    env = serve_env(tmp_path / "env", {})
    srv = Server(["--log", "--ctx", "256", "--parallel", "2"], env, tmp_path)
    try:
        client = srv.client()
        whole = client.chat.completions.create(
            model="default", messages=USER, temperature=0, max_tokens=12
        )
        stream = client.chat.completions.create(
            model="default", messages=USER, temperature=0.5, seed=3, max_tokens=8, stream=True
        )
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        first, second = served_rows(env, 2)
    finally:
        srv.stop()
    assert first["reply"] == whole.choices[0].message.content
    assert second["reply"] == streamed
    assert first["messages"] == USER and first["conversation_id"] != second["conversation_id"]
    assert first["params"]["max_tokens"]["value"] == 12
    assert second["params"]["temperature"]["value"] == 0.5
    assert second["params"]["seed"]["value"] == 3
    assert first["usage"]["completion_tokens"] == whole.usage.completion_tokens


def test_serve_without_log_keeps_nothing(tmp_path):
    env = serve_env(tmp_path / "env", {})
    srv = Server(["--ctx", "256"], env, tmp_path)
    try:
        r = srv.client().chat.completions.create(model="default", messages=USER, max_tokens=4)
        assert r.choices[0].message.content is not None
    finally:
        srv.stop()
    assert served_rows(env, 0) == []
    assert not (tmp_path / "env" / "xdg-data" / "oruel" / "logs.db").exists()
