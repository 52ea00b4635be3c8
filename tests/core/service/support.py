"""``voxgate serve`` as a real process with a service manager's environment variables."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from tests.support.daemon import _die_with_parent, free_port, serve_command
from tests.support.plugin_dist import fake_plugin_env


class ServiceDaemon:
    """Started in the background; the test waits for its notifications, not for its port."""

    def __init__(
        self,
        config: Path,
        env: Mapping[str, str],
        *,
        launcher: Sequence[str] = (),
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = config.parent / f"daemon-{self.port}.log"
        command = [*launcher, *serve_command(config, self.port)]
        full_env = {
            **os.environ,
            **fake_plugin_env(config.parent),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=full_env,
                preexec_fn=_die_with_parent,
            )

    def get(self, path: str, timeout: float = 10) -> httpx.Response:
        return httpx.get(self.url + path, timeout=timeout)

    def send(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")
