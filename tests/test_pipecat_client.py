"""pipecat's OpenAI services (chat with a function tool, speech, transcription, a Realtime voice
session and a Realtime transcription session) against a real daemon on the shipped config, with
its real offline engines. pipecat runs in its own environment (tests/support/pipecat_env.py);
each check is one run of tests/support/pipecat_checks.py, which prints what pipecat got."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import Daemon
from tests.support.pipecat_env import CHECKS, pipecat_python
from tests.support.plugin_dist import REPO_ROOT

SHIPPED = REPO_ROOT / "config" / "ai_backend.yaml"
QUESTION = ["what", "is", "the", "capital", "of", "france"]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


@pytest.fixture(scope="module")
def python() -> Path:
    return pipecat_python()


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("pipecat-data")
    # Local engines only: the shipped cloud fallbacks have no keys here.
    env = {"VOXGATE_DATA_DIR": str(data), "VOXGATE_MODE": "local"}
    running = Daemon(SHIPPED, env, log=data / "daemon.log")
    try:
        yield running.url
    finally:
        assert running.stop() == 0


def check(python: Path, url: str, name: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), str(CHECKS), url, name],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == [], result
    return result


def test_chat(python: Path, url: str) -> None:
    assert "paris" in words(check(python, url, "chat")["text"])


def test_a_function_tool_is_called_and_its_result_returned(python: Path, url: str) -> None:
    result = check(python, url, "tools")
    (arguments,) = result["arguments"]
    assert isinstance(arguments["city"], str) and arguments["city"]
    assert result["results"] == [{"conditions": "sunny", "celsius": 21}]


def test_speech(python: Path, url: str) -> None:
    result = check(python, url, "speech")
    assert result["rates"] == [24000]
    assert result["bytes"] > 24000 * 2  # over a second of 16-bit audio


def test_transcription(python: Path, url: str) -> None:
    assert words(check(python, url, "transcription")["text"]) == QUESTION


def test_a_realtime_voice_session_hears_and_answers(python: Path, url: str) -> None:
    # pipecat asks for a first reply at once; the spoken question cuts it short, and the
    # answer to the question must still come, in text and audio.
    result = check(python, url, "realtime")
    assert words(result["heard"]) == QUESTION
    assert words(result["answer"])  # sampled: the words vary from run to run
    assert result["audio_bytes"] > 0


def test_a_realtime_transcription_session(python: Path, url: str) -> None:
    assert words(check(python, url, "realtime_transcription")["text"]) == QUESTION
