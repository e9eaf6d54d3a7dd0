"""`oruel serve` as a real process: the port is bound before anything loads (a
port in use is one line and exit 1), and a model given as a file is served
under its file's stem, the name `ask --output-json` reports, never its path."""

from __future__ import annotations

import json
import socket
import subprocess

import openai
import pytest
from support.serve_proc import Server, oruel_cmd, serve_env

from oruel_cli.models.resolve import embedded_model_path

pytestmark = pytest.mark.model


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            oruel_cmd("serve", "--port", str(port)),
            env=serve_env(tmp_path / "env", {}),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [f"oruel serve: error: 127.0.0.1:{port} is in use"]


@pytest.fixture(scope="module")
def model_file():
    path = embedded_model_path()
    assert path is not None
    return path


@pytest.fixture(scope="module")
def server(model_file, tmp_path_factory):
    env = serve_env(tmp_path_factory.mktemp("serve-names-env"), {})
    srv = Server(
        ["-m", str(model_file), "--ctx", "128", "--parallel", "1"],
        env,
        tmp_path_factory.mktemp("serve-names-cwd"),
    )
    yield srv
    srv.stop()


def _ask(server: Server, model: str):  # noqa: ANN202 - an openai ChatCompletion
    return server.client().chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Hi"}], max_tokens=2, temperature=0
    )


def test_a_file_model_is_served_under_its_stem(server, model_file):
    stem = model_file.stem
    status, _, body = server.request("GET", "/v1/models")
    assert status == 200
    assert [m["id"] for m in json.loads(body)["data"]] == [stem]
    assert str(model_file.parent) not in body.decode()
    assert f"models: {stem};" in server.wait_log("listening on")
    for name in (stem, model_file.name, str(model_file)):
        shown = stem if "/" in name else name  # the client's own name for it, never a path
        assert _ask(server, name).model == shown
    status, _, body = server.request("GET", f"/v1/models/{model_file.name}")
    assert status == 200 and json.loads(body)["id"] == model_file.name


def test_an_unknown_model_lists_the_names_served(server, model_file):
    with pytest.raises(openai.NotFoundError) as info:
        _ask(server, "nope")
    message = info.value.body["message"]
    assert "'nope'" in message and message.endswith(f"it serves: {model_file.stem}")
    assert "/" not in message


def test_the_stem_is_the_name_ask_reports(model_file, tmp_path):
    done = subprocess.run(
        oruel_cmd("ask", "-m", str(model_file), "--max-tokens", "1", "--output-json", "Hi"),
        env=serve_env(tmp_path / "env", {}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model"] == model_file.stem
