"""The child processes a bench starts: waiting until a server answers, stopping one for good."""

from __future__ import annotations

import subprocess
import time

import httpx


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    """Until the daemon at ``url`` answers ``/healthz``; an exit or a minute of silence fails."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited")
        try:
            httpx.get(url + "/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def stop(process: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGTERM, and SIGKILL for a process still there after ``grace`` seconds."""
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
