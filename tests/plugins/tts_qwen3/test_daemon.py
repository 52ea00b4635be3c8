"""Qwen3-TTS through a real daemon: presets and cloned voices over HTTP, the voice store, the
model manager's view, and the worker dying or hanging mid-request (fallback, then restart).

The fallback engine is the fake TTS of the test plugin: what is tested here is the core's
routing around a dead worker, not the fake.
"""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest
import soundfile

from tests.support.audio_bombs import silent_flac, wav_declaring
from tests.support.daemon import serving
from tests.support.openai_speech import stream_pcm
from tests.support.plugin_dist import fake_plugin_env

# The first test may build the worker environment (minutes, once; then it is cached).
pytestmark = pytest.mark.timeout(1800)

CONFIG = """\
reload: {{watch: false}}
logging: {{level: info}}
models_dir: {models}
policy:
  timeout: 120
  breaker: {{failures: 100}}
engines:
  qwen:
    capability: tts
    engine: qwen3
    preload: true
    settings:
      python: {python}
      clone_model: base_0_6b
      max_new_tokens: 12
      ping_interval: 0.5
      ping_timeout: 3
      restart_backoff: 0.5
      max_restart_backoff: 1
  backup: {{capability: tts, engine: fake}}
routes: {{tts: [qwen, backup]}}
"""


@pytest.fixture(scope="module")
def daemon(
    qwen_python: Path, tiny_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("qwen-daemon")
    config = CONFIG.format(models=tiny_models, python=qwen_python)
    with serving(folder, config, env=fake_plugin_env(folder), startup_timeout=300) as url:
        yield url


@pytest.fixture(scope="module")
def api(daemon: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=daemon + "/v1", api_key="unused", max_retries=0) as client:
        yield client


def wav(content: bytes) -> tuple[np.ndarray, int]:
    samples, rate = soundfile.read(io.BytesIO(content), dtype="float32")
    return samples, rate


def assert_noise(samples: np.ndarray, rate: int) -> None:
    assert rate == 24_000
    assert len(samples) > 0 and np.isfinite(samples).all()
    assert float(np.sqrt(np.mean(samples**2))) > 0.005


def reference_wav(seconds: float = 3.0, rate: int = 22_050) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    voice = 0.1 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    stereo = np.stack([voice, voice * 0.8], axis=1).astype(np.float32)
    buffer = io.BytesIO()
    soundfile.write(buffer, stereo, rate, format="WAV")
    return buffer.getvalue()


def worker_status(daemon: str) -> dict[str, Any]:
    status = httpx.get(daemon + "/control/status", timeout=10).json()
    return dict(status["engines"]["qwen"]["info"]["worker"])


def wait_until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_a_preset_speaker_through_the_openai_client(api: openai.OpenAI) -> None:
    speech = api.audio.speech.create(
        model="tts",
        voice="vivian",
        input="Hello there. This is a second sentence.",
        response_format="wav",
        extra_body={"language": "en"},
    )
    assert speech.response.headers["x-voxgate-engine"] == "qwen"
    assert speech.response.headers["x-voxgate-voice"] == "vivian"
    assert "x-voxgate-fallback" not in speech.response.headers
    assert_noise(*wav(speech.content))


def test_streamed_pcm_arrives_whole(api: openai.OpenAI) -> None:
    speech = stream_pcm(api, model="qwen", voice="ryan", text="One. Two. Three.")
    assert speech.headers["x-sample-rate"] == "24000"
    pcm = speech.samples
    assert len(pcm) > 3 * 1920  # three sentences, at least a codec frame each


def test_an_unknown_speaker_is_an_invalid_voice_not_a_fallback(daemon: str) -> None:
    response = httpx.post(
        daemon + "/v1/audio/speech",
        json={"model": "qwen", "input": "Hi.", "voice": "nobody", "response_format": "wav"},
        timeout=60,
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "voice"
    assert response.json()["error"]["message"].startswith("invalid voice 'nobody'")


def test_the_voice_store_round_trip_and_cloned_speech(daemon: str, api: openai.OpenAI) -> None:
    created = httpx.post(
        daemon + "/v1/voices",
        files={"file": ("me.wav", reference_wav(), "audio/wav")},
        data={"name": "Me", "description": "calm", "language": "en", "gender": "female"},
        timeout=60,
    )
    assert created.status_code == 201, created.text
    voice = created.json()
    voice_id = voice["id"]
    assert voice_id.startswith("voice_")
    assert voice["sample_rate"] == 24_000 and 2.5 < voice["duration"] <= 3.2
    assert voice["reference_text"] is None

    listed = httpx.get(daemon + "/v1/voices", timeout=30).json()
    assert voice_id in [v["id"] for v in listed["stored"]]
    offered = [v for v in listed["data"] if v["id"] == voice_id]
    assert offered and offered[0]["engine"] == "qwen" and offered[0]["kind"] == "cloned"

    # x-vector mode (no transcript yet)
    speech = api.audio.speech.create(
        model="tts", voice=voice_id, input="Speaking as me.", response_format="wav"
    )
    assert speech.response.headers["x-voxgate-engine"] == "qwen"
    assert speech.response.headers["x-voxgate-voice"] == voice_id
    assert_noise(*wav(speech.content))

    # a transcript switches to the in-context mode
    patched = httpx.patch(
        daemon + f"/v1/voices/{voice_id}",
        json={"reference_text": "This is me talking.", "name": "Me again"},
        timeout=30,
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "Me again"
    speech = api.audio.speech.create(
        model="tts", voice=voice_id, input="In context now.", response_format="wav"
    )
    assert_noise(*wav(speech.content))

    clip = httpx.get(daemon + f"/v1/voices/{voice_id}/audio", timeout=30)
    assert wav(clip.content)[1] == 24_000

    deleted = httpx.delete(daemon + f"/v1/voices/{voice_id}", timeout=30)
    assert deleted.json()["deleted"] is True
    assert httpx.get(daemon + f"/v1/voices/{voice_id}", timeout=30).status_code == 404


@pytest.mark.parametrize(
    ("files", "data", "status", "code"),
    [
        (
            {"file": ("x.wav", b"not audio at all", "audio/wav")},
            {"name": "x"},
            415,
            "invalid_audio",
        ),
        (
            {"file": ("x.wav", reference_wav(0.4), "audio/wav")},
            {"name": "x"},
            400,
            "invalid_reference",
        ),
        ({"file": ("x.wav", reference_wav(), "audio/wav")}, {}, 400, None),
        # decode bombs: refused from the header or cut off while decoding, never decoded whole
        (
            {"file": ("x.flac", silent_flac(180), "audio/flac")},
            {"name": "x"},
            413,
            "audio_too_long",
        ),
        ({"file": ("x.wav", wav_declaring(1), "audio/wav")}, {"name": "x"}, 415, "invalid_audio"),
        (
            {"file": ("x.wav", wav_declaring(2_147_483_647), "audio/wav")},
            {"name": "x"},
            415,
            "invalid_audio",
        ),
        (
            {"file": ("x.wav", reference_wav(), "audio/wav")},
            {"name": "x", "gender": "robot"},
            400,
            "invalid_voice",
        ),
    ],
)
def test_bad_voice_uploads_are_refused(
    daemon: str, files: dict[str, Any], data: dict[str, str], status: int, code: str | None
) -> None:
    response = httpx.post(daemon + "/v1/voices", files=files, data=data, timeout=30)
    assert response.status_code == status
    if code:
        assert response.json()["error"]["code"] == code


def test_voice_ids_cannot_name_other_paths(daemon: str) -> None:
    for bad in ("voice_..%2F..%2Findex", "..", "voice_0000000000000000", "index.json"):
        assert httpx.get(daemon + f"/v1/voices/{bad}", timeout=30).status_code == 404
        assert httpx.delete(daemon + f"/v1/voices/{bad}", timeout=30).status_code == 404


def test_the_model_manager_sees_the_installed_models(daemon: str) -> None:
    models = {
        m["key"]: m for m in httpx.get(daemon + "/control/models", timeout=30).json()["models"]
    }
    assert models["custom_0_6b"]["status"] == "ok"
    assert models["base_0_6b"]["status"] == "ok"
    assert models["custom_1_7b"]["status"] == "missing"
    report = httpx.post(daemon + "/control/models/custom_0_6b/validate", timeout=30).json()
    assert report["ok"] is True
    path = httpx.get(daemon + "/control/models/design_1_7b/path", timeout=30).json()
    assert path["path"].endswith("Qwen/Qwen3-TTS-12Hz-1.7B-VoiceDesign")
    assert path["exists"] is False


def _speak_in_background(daemon: str, results: list[httpx.Response]) -> threading.Thread:
    def run() -> None:
        results.append(
            httpx.post(
                daemon + "/v1/audio/speech",
                json={"input": "Are you still there?", "voice": "vivian", "response_format": "wav"},
                timeout=120,
            )
        )

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _engine_active(daemon: str) -> bool:
    status = httpx.get(daemon + "/control/status", timeout=10).json()
    return bool(status["engines"]["qwen"]["active"])


def test_killing_the_worker_mid_request_falls_back_then_restarts(daemon: str) -> None:
    before = worker_status(daemon)
    pid = before["pid"]
    os.kill(pid, signal.SIGSTOP)  # hold the request inside the worker ...
    results: list[httpx.Response] = []
    thread = _speak_in_background(daemon, results)
    try:
        wait_until(lambda: _engine_active(daemon))
    finally:
        os.kill(pid, signal.SIGKILL)  # ... and kill the worker while it is being served
    thread.join(120)
    response = results[0]
    assert response.status_code == 200
    assert response.headers["x-voxgate-engine"] == "backup"
    assert "qwen" in response.headers["x-voxgate-fallback"]

    wait_until(
        lambda: worker_status(daemon)["state"] == "ready" and worker_status(daemon)["pid"] != pid
    )
    after = worker_status(daemon)
    assert after["restarts"] == before["restarts"] + 1
    assert after["last_exit"] == "killed by signal 9"
    # The restarted worker serves again.
    again = httpx.post(
        daemon + "/v1/audio/speech",
        json={"input": "Back again.", "voice": "vivian", "response_format": "wav"},
        timeout=120,
    )
    assert again.headers["x-voxgate-engine"] == "qwen"


def test_a_hung_worker_is_detected_and_the_request_falls_back(daemon: str) -> None:
    before = worker_status(daemon)
    os.kill(before["pid"], signal.SIGSTOP)  # frozen: no answers, not even to pings
    results: list[httpx.Response] = []
    _speak_in_background(daemon, results).join(120)
    assert results[0].headers["x-voxgate-engine"] == "backup"
    wait_until(lambda: worker_status(daemon)["state"] == "ready")
    after = worker_status(daemon)
    assert after["last_exit"] == "ended by the daemon (hung)"
    assert after["restarts"] == before["restarts"] + 1
