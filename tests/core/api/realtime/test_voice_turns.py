"""Spoken turns through a real daemon with the official openai client: a question spoken by the
local TTS goes in as audio, the transcript, the reply and its audio come out, and the reply audio
transcribes back to the reply's text. Every server event is checked against the openai package's
own event types as it arrives (tests/support/realtime.py)."""

from __future__ import annotations

import asyncio
import time

import httpx
import numpy as np

from core.audio.chunk import AudioChunk
from tests.core.api.realtime.conftest import Daemon, word_prefix
from tests.support.realtime import (
    PCM_RATE,
    Session,
    connect,
    decode_output,
    pcm16,
    silence,
    telephony,
    wav,
)
from tests.support.speech import SENTENCES, speech
from tests.support.wer import normalized_words, word_error_rate

QUESTION = "What is the capital of France?"
PCM_BPS = PCM_RATE * 2


async def ask(session: Session, audio: bytes, bytes_per_second: int, fill: bytes = b"\x00") -> dict:
    """Speak ``audio`` (twice real time), then silence until the reply is done."""
    await session.stream(audio, bytes_per_second=bytes_per_second, speed=2.0)
    quiet = asyncio.create_task(
        session.stream(silence(8, bytes_per_second, fill), bytes_per_second=bytes_per_second)
    )
    try:
        return await session.next("response.done", timeout=90)
    finally:
        quiet.cancel()


def in_order(kinds: list[str], *expected: str) -> bool:
    positions = [kinds.index(kind) for kind in expected]
    return positions == sorted(positions)


async def test_spoken_question_gets_a_spoken_answer(daemon: Daemon) -> None:
    async with connect(daemon.url) as session:
        created = await session.next("session.created")
        assert created["session"]["type"] == "realtime"
        assert created["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        done = await ask(session, pcm16(speech(QUESTION)), PCM_BPS)
        response = done["response"]
        assert response["status"] == "completed", response
        user_id = session.of("input_audio_buffer.committed")[0]["item_id"]
        heard = session.of("conversation.item.input_audio_transcription.completed")[0]
        assert heard["item_id"] == user_id
        assert word_error_rate(QUESTION, heard["transcript"]) <= 0.2, heard["transcript"]
        assert heard["usage"]["type"] == "duration"
        kinds = session.kinds()
        assert in_order(
            kinds,
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.input_audio_transcription.completed",
            "response.created",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_audio_transcript.delta",
            "response.output_audio.delta",
            "response.output_audio.done",
            "response.output_audio_transcript.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.done",
        )
        # The reply: text (streamed sentence by sentence) and audio that says it.
        reply_id = response["output"][0]["id"]
        said = session.of("response.output_audio_transcript.done")[0]["transcript"]
        deltas = "".join(e["delta"] for e in session.of("response.output_audio_transcript.delta"))
        assert said and said == deltas
        assert response["output"][0]["content"][0]["transcript"] == said
        audio = decode_output(session.audio_of(response["id"]), "pcm16")
        assert audio.duration > 0.5
        back = await asyncio.to_thread(daemon.transcribe, wav(audio))
        assert word_error_rate(said, back) <= 0.35, (said, back)
        assert response["usage"]["output_tokens"] > 0
        # The conversation holds both turns.
        await session.send({"type": "conversation.item.retrieve", "item_id": user_id})
        user = (await session.next("conversation.item.retrieved"))["item"]
        assert user["content"][0]["transcript"] == heard["transcript"]
        await session.send({"type": "conversation.item.retrieve", "item_id": reply_id})
        reply = (await session.next("conversation.item.retrieved"))["item"]
        assert reply["role"] == "assistant" and reply["content"][0]["transcript"] == said
    metrics = httpx.get(daemon.url + "/metrics", timeout=10).text
    assert 'voxgate_realtime_replies_total{status="completed"}' in metrics
    assert "voxgate_realtime_first_audio_seconds_count" in metrics


async def test_telephony_audio_both_ways(daemon: Daemon) -> None:
    """mu-law 8 kHz in, A-law 8 kHz out."""
    async with connect(daemon.url) as session:
        await session.next("session.created")
        await session.update(
            {
                "audio": {
                    "input": {"format": {"type": "audio/pcmu"}},
                    "output": {"format": {"type": "audio/pcma"}},
                },
            }
        )
        updated = (await session.next("session.updated"))["session"]
        assert updated["audio"]["input"]["format"] == {"type": "audio/pcmu"}
        assert updated["audio"]["output"]["format"] == {"type": "audio/pcma"}
        done = await ask(session, telephony(speech(QUESTION), "mulaw"), 8000, fill=b"\xff")
        response = done["response"]
        assert response["status"] == "completed"
        heard = session.of("conversation.item.input_audio_transcription.completed")[0]
        assert word_error_rate(QUESTION, heard["transcript"]) <= 0.2, heard["transcript"]
        raw = session.audio_of(response["id"])
        audio = decode_output(raw, "alaw")
        # One byte per sample at 8 kHz.
        assert audio.duration == len(raw) / 8000 > 0.5
        said = session.of("response.output_audio_transcript.done")[0]["transcript"]
        back = await asyncio.to_thread(daemon.transcribe, wav(audio))
        assert word_error_rate(said, back) <= 0.35, (said, back)


async def test_barge_in_cancels_the_reply_and_keeps_only_what_was_heard(daemon: Daemon) -> None:
    async with connect(daemon.url, model="paced") as session:
        await session.next("session.created")
        await session.stream(
            pcm16(speech("Tell me a long story about a brave little dog.")),
            bytes_per_second=PCM_BPS,
            speed=2.0,
        )
        background = asyncio.create_task(
            session.stream(silence(3, PCM_BPS), bytes_per_second=PCM_BPS)
        )
        first = await session.next("response.output_audio.delta", timeout=90)
        await background
        response_id = first["response_id"]
        # The user talks over the reply after about a second and a half of it.
        await asyncio.sleep(1.5)
        interruption = pcm16(speech(SENTENCES[3]))
        talking = asyncio.create_task(
            session.stream(interruption + silence(4, PCM_BPS), bytes_per_second=PCM_BPS)
        )
        started = await session.next("input_audio_buffer.speech_started")
        done = await session.next("response.done")
        assert done["response"]["id"] == response_id
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"]["reason"] == "turn_detected"
        assert session.kinds().index("input_audio_buffer.speech_started") < session.kinds().index(
            "response.done"
        )
        # Nothing of the cancelled reply is sent after it was cancelled.
        after = session.events[session.events.index(done) :]
        assert not [e for e in after if e.get("response_id") == response_id]
        item = done["response"]["output"][0]
        assert item["status"] == "incomplete"
        announced = "".join(
            e["delta"]
            for e in session.of("response.output_audio_transcript.delta", response_id=response_id)
        )
        kept = item["content"][0]["transcript"]
        # What was heard (about 1.5 s of it) is the start of what was announced; a sentence is
        # announced as its audio is sent, up to 0.3 s ahead of playing, so usually more.
        assert word_prefix(kept, announced), (kept, announced)
        assert 0 < len(normalized_words(kept)) <= len(normalized_words(announced))
        # The server kept what was sent in real time; the client may know better.
        await session.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
        retrieved = (await session.next("conversation.item.retrieved"))["item"]
        assert retrieved["content"][0]["transcript"] == kept
        await session.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item["id"],
                "content_index": 0,
                "audio_end_ms": 400,
            }
        )
        truncated = await session.next("conversation.item.truncated")
        assert truncated["audio_end_ms"] == 400
        await session.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
        shorter = (await session.next("conversation.item.retrieved"))["item"]["content"][0][
            "transcript"
        ]
        assert word_prefix(shorter, kept) and len(shorter) < len(kept), (shorter, kept)
        # The interruption is the next turn, answered in its own right.
        nxt = await session.next("response.done", timeout=90)
        talking.cancel()
        assert nxt["response"]["status"] in ("completed", "cancelled")
        heard = session.of("conversation.item.input_audio_transcription.completed")[-1]
        assert heard["item_id"] == started["item_id"]
        assert word_error_rate(SENTENCES[3], heard["transcript"]) <= 0.3, heard["transcript"]


async def speaker_loop(session: Session, response_id: str, until: asyncio.Event) -> None:
    """A speakerphone: what the client plays comes back into its microphone (half as loud,
    with a little noise), in real time, 40 ms at a time."""
    played = 0
    rng = np.random.default_rng(5)
    step = PCM_BPS // 25
    started = time.perf_counter()
    tick = 0
    while not until.is_set():
        audio = session.audio_of(response_id)
        chunk = audio[played : played + step]
        played += len(chunk)
        samples = np.frombuffer(chunk, dtype="<i2").astype(np.float32) / 32768.0
        mic = np.zeros(step // 2, dtype=np.float32)
        mic[: len(samples)] = samples * 0.5
        mic += rng.standard_normal(len(mic)).astype(np.float32) * 0.002
        await session.append(AudioChunk(mic, PCM_RATE).to_pcm16())
        tick += 1
        await asyncio.sleep(max(started + tick * 0.04 - time.perf_counter(), 0))


async def reply_with_echo(daemon: Daemon, model: str) -> tuple[Session, dict]:
    async with connect(daemon.url, model=model) as session:
        await session.next("session.created")
        await session.stream(pcm16(speech(QUESTION)), bytes_per_second=PCM_BPS, speed=2.0)
        quiet = asyncio.create_task(session.stream(silence(5, PCM_BPS), bytes_per_second=PCM_BPS))
        first = await session.next("response.output_audio.delta", timeout=90)
        quiet.cancel()
        stop = asyncio.Event()
        echo = asyncio.create_task(speaker_loop(session, first["response_id"], stop))
        done = await session.next("response.done", timeout=90)
        await asyncio.sleep(1.0)  # the echo's tail
        stop.set()
        await echo
        return session, done


async def test_the_replys_own_echo_does_not_barge_in(daemon: Daemon) -> None:
    session, done = await reply_with_echo(daemon, "phone")
    assert done["response"]["status"] == "completed", done["response"]["status_details"]
    # The echo was heard as speech by the detector but neither barged in nor became a turn.
    assert len(session.of("input_audio_buffer.speech_started")) == 1
    assert len(session.of("input_audio_buffer.committed")) == 1
    # Without the echo guard the same echo interrupts the reply.
    session, done = await reply_with_echo(daemon, "paced")
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"]["reason"] == "turn_detected"
