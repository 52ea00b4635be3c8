"""Voice-bot frameworks against a real daemon on the shipped config, with its real offline
engines: pipecat's OpenAI services (chat with a function tool, speech, transcription, a Realtime
voice session and a Realtime transcription session) and LiveKit Agents' OpenAI plugin (its
Realtime model, TTS, STT and streaming STT). Each framework runs in its own environment
(tests/support/client_envs.py); each check is one run of its script in tests/support, which
prints what the framework got."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.client_envs import (
    LIVEKIT,
    LIVEKIT_CHECKS,
    PIPECAT,
    PIPECAT_CHECKS,
    client_python,
)
from tests.support.daemon import Daemon
from tests.support.plugin_dist import REPO_ROOT

SHIPPED = REPO_ROOT / "config" / "ai_backend.yaml"
QUESTION = ["what", "is", "the", "capital", "of", "france"]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("voice-clients")
    # Local engines only: the shipped cloud fallbacks have no keys here.
    env = {"VOXGATE_DATA_DIR": str(data), "VOXGATE_MODE": "local"}
    running = Daemon(SHIPPED, env, log=data / "daemon.log")
    try:
        yield running.url
    finally:
        assert running.stop() == 0


@pytest.fixture(scope="module")
def pipecat(url: str) -> Iterator[Any]:
    python = client_python(PIPECAT, "VOXGATE_TEST_PIPECAT_PYTHON")
    yield lambda name: run_check(python, PIPECAT_CHECKS, url, name)


@pytest.fixture(scope="module")
def livekit(url: str) -> Iterator[Any]:
    python = client_python(LIVEKIT, "VOXGATE_TEST_LIVEKIT_PYTHON")
    yield lambda name: run_check(python, LIVEKIT_CHECKS, url, name)


def run_check(python: Path, script: Path, url: str, name: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), str(script), url, name],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == [], result
    return result


# -- pipecat -----------------------------------------------------------------------------------


def test_pipecat_chat(pipecat: Any) -> None:
    assert "paris" in words(pipecat("chat")["text"])


def test_pipecat_calls_a_function_tool_and_returns_its_result(pipecat: Any) -> None:
    result = pipecat("tools")
    (arguments,) = result["arguments"]
    assert isinstance(arguments["city"], str) and arguments["city"]
    assert result["results"] == [{"conditions": "sunny", "celsius": 21}]


def test_pipecat_speech(pipecat: Any) -> None:
    result = pipecat("speech")
    assert result["rates"] == [24000]
    assert result["bytes"] > 24000 * 2  # over a second of 16-bit audio


def test_pipecat_transcription(pipecat: Any) -> None:
    assert words(pipecat("transcription")["text"]) == QUESTION


def test_pipecat_realtime_voice_session_hears_and_answers(pipecat: Any) -> None:
    # pipecat asks for a first reply at once; the spoken question cuts it short, and the
    # answer to the question must still come, in text and audio.
    result = pipecat("realtime")
    assert words(result["heard"]) == QUESTION
    assert words(result["answer"])  # sampled: the words vary from run to run
    assert result["audio_bytes"] > 0


def test_pipecat_realtime_transcription_session(pipecat: Any) -> None:
    assert words(pipecat("realtime_transcription")["text"]) == QUESTION


# -- LiveKit Agents ----------------------------------------------------------------------------


def test_livekit_realtime_model_hears_and_answers(livekit: Any) -> None:
    result = livekit("realtime")
    assert words(result["heard"]) == QUESTION
    assert words(result["answer"])
    assert result["audio_bytes"] > 0


def test_livekit_speech(livekit: Any) -> None:
    result = livekit("speech")
    assert result["rates"] == [24000]
    assert result["bytes"] > 24000 * 2


def test_livekit_transcription(livekit: Any) -> None:
    assert words(livekit("transcription")["text"]) == QUESTION


def test_livekit_streaming_transcription(livekit: Any) -> None:
    result = livekit("live_transcription")
    assert words(result["text"]) == QUESTION
    assert result["events"][0] == "START_OF_SPEECH"
    assert result["events"][-1] == "FINAL_TRANSCRIPT"
