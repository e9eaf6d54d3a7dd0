"""The stand-in hub (hub_standin.py) as a real process on a loopback port, for the pull tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

START_TIMEOUT = 60.0  # seconds to hash the model's copies and listen (a loaded machine is slow)
HERE = Path(__file__).resolve().parent


class StandInHub:
    """One stand-in hub process; `url` is what HF_ENDPOINT gets, `log` its request lines."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port_file = folder / "port.json"
        self.log = folder / "requests.log"
        self.port_file.unlink(missing_ok=True)
        self.log.write_text("")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "hub_standin.py"), "--port-file", str(self.port_file),
             "--log", str(self.log)],
            stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not self.port_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"the stand-in hub died: {self.proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the stand-in hub did not start")
            time.sleep(0.05)
        self.port = json.loads(self.port_file.read_text())["port"]
        self.url = f"http://127.0.0.1:{self.port}"

    def requests(self) -> list[str]:
        return self.log.read_text().splitlines()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
