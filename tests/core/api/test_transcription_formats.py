"""verbose_json numbers and diarized_json, with fake speech-to-text engines (API shapes only)."""

from __future__ import annotations

import openai

from tests.core.api.test_openai_shapes import wav_bytes
from tests.support import WriteConfig
from tests.support.daemon import http_gateway

CONFIG = """\
engines:
  listener: {capability: stt, engine: fake, settings: {reply: "hello there world"}}
  diarist: {capability: stt, engine: fake_diarizing, settings: {reply: "hello there world"}}
routes: {stt: [listener]}
aliases: {whisper-1: stt}
"""


def upload(model: str, fmt: str, **fields: str) -> dict[str, object]:
    return {
        "files": {"file": ("a.wav", wav_bytes(1.5), "audio/wav")},
        "data": {"model": model, "response_format": fmt, **fields},
    }


async def test_verbose_segments_carry_numbers_where_the_spec_wants_them(
    write_config: WriteConfig,
) -> None:
    async with http_gateway(write_config(CONFIG)) as http:
        response = await http.post("/v1/audio/transcriptions", **upload("stt", "verbose_json"))
        assert response.status_code == 200, response.text
        segments = response.json()["segments"]
        assert len(segments) == 3
        for segment in segments:
            for name in ("start", "end", "temperature", "avg_logprob", "no_speech_prob"):
                assert isinstance(segment[name], float), name
            assert isinstance(segment["compression_ratio"], float)
            assert segment["compression_ratio"] > 0
            assert isinstance(segment["seek"], int) and segment["tokens"] == []


async def test_diarized_json_is_refused_without_a_diarizing_engine(
    write_config: WriteConfig,
) -> None:
    async with http_gateway(write_config(CONFIG)) as http:
        http_client = openai.AsyncOpenAI(
            base_url="http://voxgate.localhost/v1",
            api_key="unused",
            http_client=http,
            max_retries=0,
        )
        try:
            await http_client.audio.transcriptions.create(
                model="whisper-1", file=("a.wav", wav_bytes(1.0)), response_format="diarized_json"
            )
        except openai.BadRequestError as error:
            assert error.param == "response_format"
            assert "listener cannot" in error.message
        else:
            raise AssertionError("diarized_json was answered without a diarizing engine")


async def test_a_diarizing_engine_labels_the_speakers(write_config: WriteConfig) -> None:
    async with http_gateway(write_config(CONFIG)) as http:
        response = await http.post("/v1/audio/transcriptions", **upload("diarist", "diarized_json"))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["text"] == "hello there world"
        assert [(s["type"], s["speaker"], s["text"]) for s in body["segments"]] == [
            ("transcript.text.segment", "A", "hello"),
            ("transcript.text.segment", "B", "there"),
            ("transcript.text.segment", "A", "world"),
        ]
        streamed = await http.post(
            "/v1/audio/transcriptions", **upload("diarist", "diarized_json", stream="true")
        )
        assert streamed.status_code == 400
        assert streamed.json()["error"]["param"] == "stream"
