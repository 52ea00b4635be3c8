"""The daemon as a real process: signals, the control CLI, and config checking."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support import WriteConfig
from tests.support.commands import voxgate
from tests.support.daemon import Daemon, free_port
from tests.support.plugin_dist import fake_plugin_env

CONFIG = """\
reload: {{watch: false}}
server: {{drain_timeout: 20}}
engines:
  slow: {{capability: llm, engine: fake, settings: {{reply: "{reply}", delay: 0.15}}}}
routes: {{llm: [slow]}}
"""


@pytest.fixture
def daemon(write_config, tmp_path: Path):  # type: ignore[no-untyped-def]
    config = write_config(CONFIG.format(reply="a b c d e f g h"))
    env = fake_plugin_env(tmp_path)
    running = Daemon(config, env)
    yield running, config, env
    running.stop()


def test_sigterm_drains_in_flight_streams(daemon) -> None:  # type: ignore[no-untyped-def]
    running, _, _ = daemon
    received: list[str] = []

    def stream() -> None:
        body = {"messages": [{"role": "user", "content": "go"}], "stream": True}
        with httpx.stream(
            "POST", running.url + "/v1/chat/completions", json=body, timeout=30
        ) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    received.append(line)

    client = threading.Thread(target=stream)
    client.start()
    time.sleep(0.5)  # the stream is under way
    running.process.send_signal(signal.SIGTERM)
    client.join(30)
    assert running.process.wait(30) == 0
    assert received[-1] == "data: [DONE]"
    text = "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content", "") for line in received[:-1]
    )
    assert text == "a b c d e f g h"
    log = running.log.read_text()
    assert "runtime.stopped" in log


def test_sighup_and_ctl_reload(daemon) -> None:  # type: ignore[no-untyped-def]
    running, config, env = daemon
    env = {**env, "VOXGATE_URL": running.url}
    config.write_text(CONFIG.format(reply="after hup"))
    running.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = httpx.get(running.url + "/control/status").json()
        if status["generation"] == 2:
            break
        time.sleep(0.1)
    assert status["last_reload"]["trigger"] == "sighup"

    config.write_text(CONFIG.format(reply="after ctl"))
    result = voxgate("ctl", "reload", env=env)
    assert result.returncode == 0, result.stderr
    assert "generation 3" in result.stdout
    body = {"messages": [{"role": "user", "content": "x"}]}
    reply = httpx.post(running.url + "/v1/chat/completions", json=body, timeout=30).json()
    assert reply["choices"][0]["message"]["content"] == "after ctl"

    config.write_text("engines: {slow: {capability: llm, engine: missing}}\n")
    result = voxgate("ctl", "reload", env=env)
    assert result.returncode == 1
    assert "engines.slow.engine" in result.stdout
    status_out = voxgate("ctl", "status", env=env)
    assert status_out.returncode == 0
    assert "last reload: FAILED" in status_out.stdout
    assert "slow" in status_out.stdout


def test_config_check_cli(write_config: WriteConfig, tmp_path: Path) -> None:
    env = fake_plugin_env(tmp_path)
    good = write_config(CONFIG.format(reply="x"), "good.yaml")
    result = voxgate("config", "check", str(good), env=env)
    assert result.returncode == 0, result.stderr
    assert "slow (fake, local)" in result.stdout
    bad = write_config("mode: sometimes\nengines: {}\n", "bad.yaml")
    result = voxgate("config", "check", str(bad), env=env)
    assert result.returncode == 1
    assert "line 1" in result.stderr and "mode" in result.stderr
    as_json = json.loads(voxgate("config", "check", str(bad), "--json", env=env).stdout)
    assert as_json["ok"] is False and as_json["issues"][0]["path"] == "mode"


def test_serve_refuses_an_invalid_config(write_config: WriteConfig) -> None:
    bad = write_config("engines: {x: {capability: llm, engine: nothing_here}}\n")
    result = voxgate("serve", "--config", str(bad), "--port", str(free_port()))
    assert result.returncode == 78  # EX_CONFIG: a service manager does not restart on it
    assert "engines.x.engine" in result.stderr
