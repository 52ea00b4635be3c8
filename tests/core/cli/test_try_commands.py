"""`voxgate say | transcribe | chat` against a daemon process and with --local (fake engines)."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.support import WriteConfig
from tests.support.daemon import Daemon
from tests.support.plugin_dist import fake_plugin_env

CONFIG = """\
reload: {watch: false}
engines:
  brain: {capability: llm, engine: fake, settings: {reply: "the answer is four"}}
  mouth: {capability: tts, engine: fake, settings: {voices: [heart]}}
  ears: {capability: stt, engine: fake, settings: {reply: "hello from the file"}}
routes: {llm: [brain], tts: [mouth], stt: [ears]}
"""


def voxgate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "core.cli.main", *args],
        capture_output=True,
        env={**os.environ, **env},
        check=False,
        timeout=120,
    )


@pytest.fixture
def setup(write_config: WriteConfig, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    config = write_config(CONFIG)
    env = fake_plugin_env(tmp_path)
    daemon = Daemon(config, env)
    try:
        yield config, {**env, "VOXGATE_URL": daemon.url}
    finally:
        daemon.stop()


@pytest.mark.parametrize("local", [False, True], ids=["daemon", "local"])
def test_say_transcribe_chat(
    setup: tuple[Path, dict[str, str]], tmp_path: Path, local: bool
) -> None:
    config, env = setup
    extra = ["--local", "--config", str(config)] if local else []

    out = tmp_path / "hello.flac"
    result = voxgate("say", "Hello there.", "-o", str(out), *extra, env=env)
    assert result.returncode == 0, result.stderr
    audio, rate = sf.read(out)
    assert rate == 24000 and len(audio) > 0
    assert b"engine mouth" in result.stderr

    wav = tmp_path / "in.wav"
    sf.write(wav, np.zeros(16000, dtype=np.float32), 16000)
    result = voxgate("transcribe", str(wav), *extra, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "hello from the file"

    result = voxgate("chat", "what is two plus two?", *extra, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "the answer is four"


def test_say_to_stdout_and_clear_errors(setup: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    _, env = setup
    result = voxgate("say", "Hi.", "--format", "wav", env=env)
    assert result.returncode == 0
    assert sf.read(io.BytesIO(result.stdout))[1] == 24000

    result = voxgate("say", "Hi.", "--voice", "nobody", "-o", str(tmp_path / "x.wav"), env=env)
    assert result.returncode == 1
    assert b"400" in result.stderr and b"invalid voice 'nobody'" in result.stderr

    result = voxgate("transcribe", str(tmp_path / "missing.wav"), env=env)
    assert result.returncode == 1 and b"no such file" in result.stderr

    down = {**env, "VOXGATE_URL": "http://127.0.0.1:9"}
    result = voxgate("chat", "hi", env=down)
    assert result.returncode == 1 and b"--local" in result.stderr


def test_an_unwritable_output_file_is_one_line(
    setup: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, env = setup
    for out in (tmp_path / "missing" / "x.wav", tmp_path):
        result = voxgate("say", "Hi.", "--format", "wav", "-o", str(out), env=env)
        assert result.returncode == 1, result.stderr
        assert result.stderr.decode() == f"voxgate: cannot use {out}: {_why(out)}\n"


def _why(out: Path) -> str:
    return "Is a directory" if out.is_dir() else "No such file or directory"


def test_a_malformed_daemon_url_is_a_usage_error() -> None:
    result = voxgate("chat", "hi", "--url", "http://[::1", env={})
    assert result.returncode == 2
    assert result.stderr.decode().startswith("voxgate: invalid daemon URL: ")
    assert b"Traceback" not in result.stderr


def test_ctrl_c_while_waiting_for_the_daemon_ends_quietly() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        process = subprocess.Popen(
            [sys.executable, "-m", "core.cli.main", "chat", "hi", "--url", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        connection, _ = server.accept()  # the request is on its way: the answer never comes
        with connection:
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert b"Traceback" not in stderr and b"KeyboardInterrupt" not in stderr


@pytest.mark.parametrize("speed", ["nan", "inf", "fast"])
def test_a_speed_that_is_not_a_finite_number_is_a_usage_error(speed: str, tmp_path: Path) -> None:
    result = voxgate("say", "Hi.", "--speed", speed, "-o", str(tmp_path / "x.wav"), env={})
    assert result.returncode == 2
    assert f"argument --speed: '{speed}' is not a".encode() in result.stderr
    assert b"Traceback" not in result.stderr
