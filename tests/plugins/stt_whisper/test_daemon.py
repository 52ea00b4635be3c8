"""The engines served by a real daemon: the official ``openai`` client on the transcription
endpoints, and a WebSocket client on the live transcription stream."""

from __future__ import annotations

import base64
import io
import itertools
import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import openai
import pytest
import soundfile
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from core.audio.chunk import AudioChunk
from core.audio.g711 import ulaw_encode
from tests.support.daemon import Daemon, serving
from tests.support.human_speech import LIBRIVOX, librivox_clips
from tests.support.speech import SENTENCES, at_rate, joined, quiet, speech, wav_bytes
from tests.support.wer import corpus_word_error_rate, word_error_rate

CONFIG = """\
reload: {watch: false}
logging: {level: info, format: json}
limits: {max_live_sessions: 2, live_idle_timeout: 4, max_audio_seconds: 60}
engines:
  whisper:
    capability: stt
    engine: faster_whisper
    preload: true
    settings: {vad_filter: true}
  silero: {capability: vad, engine: silero, preload: true}
routes: {stt: [whisper], vad: [silero]}
aliases: {whisper-1: stt}
"""
TWO = f"{SENTENCES[0]} {SENTENCES[1]}"


def two_sentences() -> AudioChunk:
    return joined(speech(SENTENCES[0]), quiet(0.5, 24_000), speech(SENTENCES[1]))


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("stt-daemon"), CONFIG) as url:
        yield url


@pytest.fixture(scope="module")
def client(daemon: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=daemon + "/v1", api_key="unused", max_retries=0) as api:
        yield api


def test_json(client: openai.OpenAI) -> None:
    audio = joined(*(part for s in SENTENCES for part in (speech(s), quiet(0.4, 24_000))))
    response = client.audio.transcriptions.with_raw_response.create(
        model="whisper-1", file=("speech.wav", wav_bytes(audio)), response_format="json"
    )
    assert response.headers["x-voxgate-engine"] == "whisper"
    text = response.parse().text
    assert word_error_rate(" ".join(SENTENCES), text) <= 0.1, text


@pytest.mark.parametrize("gain", [1e4, 1e30])
def test_a_float_recording_far_past_full_scale_is_heard_clipped(
    client: openai.OpenAI, gain: float
) -> None:
    """Played, such a file is clipped speech; read unclipped, Whisper heard other words in it,
    or nothing."""
    said = speech(SENTENCES[0])
    buffer = io.BytesIO()
    soundfile.write(
        buffer, said.samples * np.float32(gain), said.sample_rate, "FLOAT", format="WAV"
    )
    text = client.audio.transcriptions.create(
        model="whisper-1", file=("loud.wav", buffer.getvalue()), response_format="text"
    )
    # Clipped that hard, speech is a square wave: most words, not all, survive it.
    assert word_error_rate(SENTENCES[0], str(text)) <= 0.4, text


def test_verbose_json_with_words(client: openai.OpenAI) -> None:
    audio = two_sentences()
    result = client.audio.transcriptions.create(
        model="whisper-1",
        file=("speech.wav", wav_bytes(audio)),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert result.language == "en"
    assert result.duration == pytest.approx(audio.duration, abs=0.01)
    assert word_error_rate(TWO, result.text) <= 0.1, result.text
    assert result.segments and result.words
    words = result.words
    assert word_error_rate(TWO, " ".join(w.word for w in words)) <= 0.1
    assert all(w.start <= w.end for w in words)
    assert all(a.end <= b.start + 0.001 for a, b in itertools.pairwise(words))
    assert words[-1].end <= audio.duration + 0.05


def test_recorded_human_speech_uploaded_as_flac_files(client: openai.OpenAI) -> None:
    clips = librivox_clips()
    heard = [
        str(
            client.audio.transcriptions.create(
                model="whisper-1", file=(LIBRIVOX / clip.name), response_format="text"
            )
        )
        for clip in clips
    ]
    # tiny.en: about 0.1 here; a broken decode is far above.
    assert corpus_word_error_rate([clip.text for clip in clips], heard) <= 0.25


def test_srt(client: openai.OpenAI) -> None:
    srt = client.audio.transcriptions.create(
        model="whisper-1", file=("speech.wav", wav_bytes(two_sentences())), response_format="srt"
    )
    assert isinstance(srt, str)
    blocks = [b for b in srt.strip().split("\n\n") if b]
    assert blocks[0].splitlines()[0] == "1"
    assert " --> " in blocks[0].splitlines()[1]
    text = " ".join(" ".join(b.splitlines()[2:]) for b in blocks)
    assert word_error_rate(TWO, text) <= 0.1, srt


def test_stream(client: openai.OpenAI) -> None:
    stream = client.audio.transcriptions.create(
        model="whisper-1", file=("speech.wav", wav_bytes(two_sentences())), stream=True
    )
    deltas: list[str] = []
    done: list[str] = []
    for event in stream:
        if event.type == "transcript.text.delta":
            deltas.append(event.delta)
        elif event.type == "transcript.text.done":
            done.append(event.text)
    assert len(deltas) >= 2, "each sentence should arrive as its own delta"
    assert done == ["".join(deltas)]
    assert word_error_rate(TWO, done[0]) <= 0.1, done[0]


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the client's own notice
def test_translation_is_a_400_naming_the_english_only_model(client: openai.OpenAI) -> None:
    # A 400, not a 503: the SDK would retry a 503, and no retry can make tiny.en translate.
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.translations.create(
            model="whisper-1", file=("speech.wav", wav_bytes(speech(SENTENCES[0])))
        )
    assert caught.value.code == "unsupported_request"
    assert "'tiny.en' is English-only and cannot translate" in caught.value.message
    assert caught.value.response.headers["x-voxgate-fallback"] == "whisper=unsupported"


def test_a_language_the_model_does_not_speak_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(
            model="whisper-1",
            file=("speech.wav", wav_bytes(speech(SENTENCES[0]))),
            language="fr",
        )
    assert caught.value.code == "unsupported_request"
    assert "'tiny.en' understands English only, not 'fr'" in caught.value.message


# -- live transcription over a WebSocket ----------------------------------------------------


def ws_url(daemon: str, **query: str) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return daemon.replace("http://", "ws://") + "/v1/audio/transcriptions/stream?" + params


def receive_all(ws: ClientConnection) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    try:
        while True:
            events.append(json.loads(ws.recv(timeout=120)))
    except ConnectionClosed:
        return events


def test_websocket_live_transcription_of_mulaw_audio(daemon: str) -> None:
    audio = joined(
        quiet(0.5, 24_000, noise=0.003),
        speech(SENTENCES[0]),
        quiet(1.0, 24_000, noise=0.003),
        speech(SENTENCES[1]),
        quiet(1.0, 24_000, noise=0.003),
    )
    data = ulaw_encode(at_rate(audio, 8000).samples)
    url = ws_url(daemon, input_format="mulaw", sample_rate="8000", word_timestamps="true")
    with connect(url) as ws:
        for start in range(0, len(data), 160):  # 20 ms frames, as a phone line sends them
            ws.send(data[start : start + 160])
        ws.send(json.dumps({"type": "end"}))
        events = receive_all(ws)
        assert ws.close_code == 1000
    finals = [e for e in events if e["type"] == "transcript.final"]
    assert [f["utterance"] for f in finals] == [0, 1]
    for final, sentence in zip(finals, SENTENCES[:2], strict=True):
        assert word_error_rate(sentence, final["text"]) <= 0.1, final["text"]
        assert final["engine"] == "whisper" and final["language"] == "en"
        assert final["start"] < final["end"] <= audio.duration + 0.1
        assert word_error_rate(sentence, " ".join(w["word"] for w in final["words"])) <= 0.1
    assert finals[0]["end"] <= finals[1]["start"] + 0.5
    partials = [e for e in events if e["type"] == "transcript.partial"]
    assert partials and partials[0]["utterance"] == 0
    assert events.index(partials[0]) < events.index(finals[0])
    assert not [e for e in events if e["type"] == "error"]


def test_websocket_refuses_a_bad_query_with_a_reason(daemon: str) -> None:
    with connect(ws_url(daemon, input_format="opus")) as ws:
        events = receive_all(ws)
        assert ws.close_code == 1008
    assert events[0]["type"] == "error"
    assert events[0]["error"]["param"] == "input_format"
    assert "mulaw" in events[0]["error"]["message"]


def test_websocket_text_frames_other_than_end_get_an_error(daemon: str) -> None:
    with connect(ws_url(daemon, sample_rate="16000")) as ws:
        ws.send(json.dumps({"type": "hello"}))
        error = json.loads(ws.recv(timeout=30))
        ws.send(quiet(0.5, 16_000).to_pcm16())
        ws.send(json.dumps({"type": "end"}))
        rest = receive_all(ws)
        assert ws.close_code == 1000
    assert error["type"] == "error" and error["error"]["code"] == "invalid_message"
    assert rest == []  # half a second of silence holds no speech


def test_websocket_sessions_beyond_the_limit_are_refused_until_one_closes(daemon: str) -> None:
    url = ws_url(daemon, sample_rate="16000")
    with connect(url) as first, connect(url) as second:
        for ws in (first, second):
            ws.send(quiet(0.1, 16_000).to_pcm16())  # both are really open and served
        with connect(url) as third:
            events = receive_all(third)
            assert third.close_code == 1013
        assert (
            events[0]["error"]["code"] == "busy"
            and "2 live sessions" in events[0]["error"]["message"]
        )
        second.send(json.dumps({"type": "end"}))
        assert receive_all(second) == [] and second.close_code == 1000
    # The server frees a slot when its handler has wound down, a moment after the close.
    for _ in range(50):
        with connect(url) as again:
            again.send(json.dumps({"type": "end"}))
            events = receive_all(again)
        if again.close_code != 1013:
            break
        time.sleep(0.1)
    assert events == [] and again.close_code == 1000


def test_a_silent_client_is_ended_after_its_speech_is_transcribed(daemon: str) -> None:
    audio = joined(speech(SENTENCES[0]), quiet(0.2, 24_000))
    with connect(ws_url(daemon, sample_rate="16000")) as ws:
        ws.send(at_rate(audio, 16_000).to_pcm16())
        started = time.monotonic()
        events = receive_all(ws)  # nothing more is sent: the idle limit (4 s) ends it
        waited = time.monotonic() - started
        assert ws.close_code == 1008
    [final] = [e for e in events if e["type"] == "transcript.final"]
    assert word_error_rate(SENTENCES[0], final["text"]) <= 0.1, final["text"]
    assert events[-1]["type"] == "error" and events[-1]["error"]["code"] == "session_idle"
    assert waited >= 3.5


def test_a_session_longer_than_the_audio_limit_is_ended(daemon: str) -> None:
    second = bytes([0xFF]) * 8000  # one second of mu-law silence at 8 kHz
    with connect(ws_url(daemon, input_format="mulaw", sample_rate="8000")) as ws:
        for _ in range(61):  # the module allows 60 seconds
            ws.send(second)
        events = receive_all(ws)
        assert ws.close_code == 1008
    assert events[-1]["error"]["code"] == "audio_too_long"
    assert "60 seconds" in events[-1]["error"]["message"]


def test_sigterm_transcribes_what_was_heard_before_closing(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A daemon told to stop mid-utterance first transcribes it, then closes with 1012."""
    folder = tmp_path_factory.mktemp("stt-sigterm")
    config = folder / "ai_backend.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    daemon = Daemon(config, {"VOXGATE_DATA_DIR": str(folder / "data")})
    try:
        with connect(ws_url(daemon.url, sample_rate="16000")) as ws:
            # Speech with no pause after it: the utterance is still open when the stop comes.
            ws.send(at_rate(speech(SENTENCES[0]), 16_000).to_pcm16())
            time.sleep(0.5)
            daemon.process.send_signal(signal.SIGTERM)
            events = receive_all(ws)
            assert ws.close_code == 1012
        [final] = [e for e in events if e["type"] == "transcript.final"]
        assert word_error_rate(SENTENCES[0], final["text"]) <= 0.1, final["text"]
        assert daemon.process.wait(30) == 0
    finally:
        daemon.kill()


# -- realtime audio that no detector cut ----------------------------------------------------


def realtime_transcript(ws: ClientConnection, event: dict[str, Any]) -> str:
    ws.send(json.dumps(event))
    while True:
        received = json.loads(ws.recv(timeout=120))
        assert received["type"] != "error", received
        if received["type"] == "conversation.item.input_audio_transcription.completed":
            return str(received["transcript"])


def test_realtime_silence_committed_by_hand_or_sent_as_an_item_is_no_words(daemon: str) -> None:
    """With turn detection off nothing trims the buffer before Whisper reads it: the engine's own
    silence trimming must, or quiet comes back as Whisper's "you"."""
    url = daemon.replace("http://", "ws://") + "/v1/realtime?intent=transcription"
    silence = base64.b64encode(quiet(2.0, 24_000).to_pcm16()).decode()
    words = base64.b64encode(at_rate(speech(SENTENCES[0]), 24_000).to_pcm16()).decode()
    with connect(url, subprotocols=[Subprotocol("realtime")], max_size=None) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "session.created"
        off = {"audio": {"input": {"turn_detection": None}}, "type": "transcription"}
        ws.send(json.dumps({"type": "session.update", "session": off}))
        assert json.loads(ws.recv(timeout=30))["type"] == "session.updated"
        ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": silence}))
        assert realtime_transcript(ws, {"type": "input_audio_buffer.commit"}) == ""
        part = {"type": "input_audio", "audio": silence}
        item = {"type": "message", "role": "user", "content": [part]}
        assert realtime_transcript(ws, {"type": "conversation.item.create", "item": item}) == ""
        # Speech is still heard.
        ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": words}))
        heard = realtime_transcript(ws, {"type": "input_audio_buffer.commit"})
        assert word_error_rate(SENTENCES[0], heard) <= 0.1, heard
