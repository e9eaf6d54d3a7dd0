"""`oruel serve` as a real process for the serve tests: started on a free
loopback port (the OS picks it: `--port 0`, read from the server's first line),
ready once /health says 200, stopped with a signal; its stderr is kept.

Module-scoped fixtures start it before the per-test isolation of conftest.py,
so it gets an environment of its own: a private config (with
ORUEL_TEST_CONFIG's content under it, when set) and private XDG folders.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

START_TIMEOUT = 180.0  # seconds to listen and load (a loaded 2-core machine is slow)


def serve_env(folder: Path, config: dict[str, Any], **extra: str) -> dict[str, str]:
    """An environment whose config is `config` over ORUEL_TEST_CONFIG's, all in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    merged: dict[str, Any] = {}
    forced = os.environ.get("ORUEL_TEST_CONFIG")
    if forced:
        merged = yaml.safe_load(Path(forced).read_text()) or {}
    merged.update(config)
    (folder / "config.yaml").write_text(yaml.safe_dump(merged))
    env = {k: v for k, v in os.environ.items() if k not in ("ORUEL_API_KEY", "ORUEL_DATA_DIR")}
    env.update(
        ORUEL_CONFIG=str(folder / "config.yaml"),
        XDG_CONFIG_HOME=str(folder / "xdg-config"),
        XDG_DATA_HOME=str(folder / "xdg-data"),
        XDG_CACHE_HOME=str(folder / "xdg-cache"),
    )
    env.update(extra)
    return env


def oruel_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "oruel_cli", *args]


class Server:
    """One `oruel serve` process."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            oruel_cmd("serve", "--port", "0", *args),
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._listening = threading.Event()
        self.port = 0
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self._wait_ready()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                self._listening.set()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self._listening.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("oruel serve did not start:\n" + self.log())
        while time.monotonic() < deadline and self.proc.poll() is None:
            status, _, _ = self.request("GET", "/health")
            if status == 200:
                return
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("oruel serve did not become ready:\n" + self.log())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def log(self) -> str:
        return "\n".join(self.lines)

    def client(self, api_key: str = "not-needed") -> Any:
        from openai import OpenAI

        return OpenAI(base_url=self.base_url, api_key=api_key, max_retries=0, timeout=300)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> tuple[int, dict[str, str], bytes]:
        """One plain HTTP exchange: status, headers (lower-case names), body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
            hdrs = {"Content-Type": "application/json", **(headers or {})}
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        except OSError:
            return 0, {}, b""
        finally:
            conn.close()

    def metrics(self) -> dict[str, float]:
        """`/metrics` as {'name{labels}': value}."""
        _, _, text = self.request("GET", "/metrics")
        out = {}
        for line in text.decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def wait_log(self, pattern: str, timeout: float = 60) -> str:
        """The first stderr line matching `pattern`, waiting for it (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if re.search(pattern, line):
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no log line matches {pattern!r}:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


class Stream:
    """A raw streamed request, read event by event (to drop it, or check the chunks)."""

    def __init__(self, server: Server, body: dict[str, Any], headers: dict[str, str] | None = None):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        self.conn.request("POST", "/v1/chat/completions", json.dumps(body).encode(), hdrs)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status

    def events(self, limit: int = 100_000) -> Any:
        """The `data:` payloads, as they come ([DONE] as the string)."""
        for _ in range(limit):
            line = self.resp.readline()
            if not line:
                return
            line = line.strip()
            if line.startswith(b"data: "):
                data = line[len(b"data: ") :]
                yield data.decode() if data == b"[DONE]" else json.loads(data)

    def first_text(self) -> dict[str, Any]:
        """Read until the first chunk that carries generated text."""
        for ev in self.events():
            if isinstance(ev, dict) and (ev.get("choices") or [{}])[0].get("delta", {}).get(
                "content"
            ):
                return ev
        raise AssertionError("the stream ended before any text")

    def close(self) -> None:
        self.conn.close()
