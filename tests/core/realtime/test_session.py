"""The session object itself, with no protocol around it: turn-taking on real speech (Silero),
speculative replies, reloads between turns and the idle timeout. STT, LLM and TTS are fakes:
these tests are about the session's own logic (what is called when, what reaches the client)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.audio.chunk import AudioChunk
from core.config.schema import RealtimeLimits, RealtimeProfile, ServerVadSettings
from core.realtime import events as ev
from core.realtime.conversation import Content, Item
from core.realtime.errors import RealtimeError
from core.realtime.formats import AudioFormat
from core.realtime.replies import ResponseRequest
from core.realtime.session import RealtimeSession
from core.realtime.settings import SessionPatch, initial_settings
from core.runtime.runtime import Runtime
from tests.support import WriteConfig
from tests.support.fake_plugin import CALLS, CHAT_REQUESTS, SWITCHES
from tests.support.realtime import pcm16, silence
from tests.support.runtime import running_runtime
from tests.support.speech import SENTENCES, at_rate, speech, voiced_span

CONFIG = """\
mode: local
reload: {{watch: false}}
engines:
  ears: {{capability: stt, engine: fake, settings: {{reply: "{heard}", switch: ears}}}}
  brain: {{capability: llm, engine: fake, settings: {{reply: "{reply}", delay: {delay}}}}}
  mouth: {{capability: tts, engine: fake, settings: {{chunks: 8}}}}
  silero: {{capability: vad, engine: silero}}
routes: {{stt: [ears], llm: [brain], tts: [mouth], vad: [silero]}}
"""
PCM_BPS = 48_000


def voiced(text: str) -> AudioChunk:
    """The sentence without the quiet the voice leaves around it."""
    clip = speech(text)
    start, end = voiced_span(clip)
    rate = clip.sample_rate
    return AudioChunk(clip.samples[int(start * rate) : int(end * rate)].copy(), rate)


def config(heard: str = "hello there", reply: str = "Sure. Here you are.", delay: float = 0) -> str:
    return CONFIG.format(heard=heard, reply=reply, delay=delay)


class Recorder:
    """Collects events; ``marks`` notes the fake engines' call counts when chosen events pass."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.marks: dict[str, dict[str, int]] = {}

    def __call__(self, event: ev.Event) -> None:
        self.events.append(event)
        self.marks.setdefault(type(event).__name__, dict(CALLS))

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def index(self, kind: type[Any]) -> int:
        return next(i for i, e in enumerate(self.events) if isinstance(e, kind))

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def session(
    runtime: Runtime, limits: RealtimeLimits | None = None, **profile: Any
) -> AsyncIterator[tuple[RealtimeSession, Recorder]]:
    recorder = Recorder()
    settings = initial_settings(
        "realtime", "test", "default", RealtimeProfile(**{"output_lead": None, **profile})
    )
    live = RealtimeSession(
        runtime, settings, recorder, limits=limits or RealtimeLimits(), context_messages=20
    )
    await live.start()
    try:
        yield live, recorder
    finally:
        await live.close()


async def feed(live: RealtimeSession, audio: bytes) -> None:
    for offset in range(0, len(audio), PCM_BPS // 10):
        await live.append(audio[offset : offset + PCM_BPS // 10])


async def test_replies_start_in_the_silence_and_reach_the_client_only_after_the_turn(
    write_config: WriteConfig,
) -> None:
    # A pause shorter than the turn's silence, then more speech, then the end of the turn.
    audio = (
        pcm16(voiced(SENTENCES[0]))
        + silence(0.35, PCM_BPS)
        + pcm16(voiced(SENTENCES[1]))
        + silence(1.0, PCM_BPS)
    )
    async with (
        running_runtime(write_config(config()), entry_points=True) as runtime,
        session(runtime, turn_detection=ServerVadSettings(silence_duration_ms=600)) as (live, seen),
    ):
        await feed(live, audio)
        await seen.wait_for(lambda: bool(seen.of(ev.ResponseDone)))
    assert len(seen.of(ev.SpeechStarted)) == len(seen.of(ev.InputCommitted)) == 1
    # One reply reached the client ...
    assert len(seen.of(ev.ResponseCreated)) == 1
    assert seen.of(ev.ResponseDone)[0].response.status == "completed"
    # ... though the language model was asked at every pause (the earlier replies were dropped
    # when speech went on), and the kept one was asked before the turn was committed.
    assert CALLS["brain"] >= 2
    assert seen.marks["InputCommitted"].get("brain") == CALLS["brain"]
    first_audio = seen.index(ev.AudioDelta)
    assert seen.index(ev.InputCommitted) < seen.index(ev.ResponseCreated) < first_audio
    # The transcript was made in pieces at the pauses, each reported as it came.
    pieces = [e.delta for e in seen.of(ev.TranscriptDelta)]
    done = seen.of(ev.TranscriptDone)[0]
    assert len(pieces) >= 2 and "".join(pieces) == done.transcript
    assert done.transcript.count("hello there") == len(pieces)
    # The reply was made from that transcript.
    asked = CHAT_REQUESTS["brain"].messages
    assert asked[-1].role == "user" and asked[-1].content == done.transcript


async def test_nothing_understood_gets_no_reply(write_config: WriteConfig) -> None:
    async with (
        running_runtime(write_config(config(heard="")), entry_points=True) as runtime,
        session(runtime) as (live, seen),
    ):
        await feed(live, pcm16(speech(SENTENCES[2])) + silence(1.0, PCM_BPS))
        await seen.wait_for(lambda: bool(seen.of(ev.TranscriptDone)))
        await asyncio.sleep(0.2)
    assert seen.of(ev.TranscriptDone)[0].transcript == ""
    assert not seen.of(ev.ResponseCreated)


async def ask(live: RealtimeSession, seen: Recorder, text: str) -> ev.ResponseInfo:
    done = len(seen.of(ev.ResponseDone))
    await live.create_item(
        Item(f"item_{done}", role="user", content=[Content("input_text", text=text)]), None
    )
    live.create_response(ResponseRequest(modalities=("text",)))
    await seen.wait_for(lambda: len(seen.of(ev.ResponseDone)) > done)
    response: ev.ResponseInfo = seen.of(ev.ResponseDone)[-1].response
    return response


def reply_text(response: ev.ResponseInfo) -> str:
    return response.output[0].content[0].text or ""


async def test_a_long_session_keeps_its_latest_items_and_says_which_it_dropped(
    write_config: WriteConfig,
) -> None:
    async with (
        running_runtime(write_config(config()), entry_points=True) as runtime,
        session(runtime, limits=RealtimeLimits(max_items=16)) as (live, seen),
    ):
        for index in range(19):
            await live.create_item(
                Item(f"note_{index}", role="user", content=[Content("input_text", text="hi")]),
                None,
            )
        assert [event.item_id for event in seen.of(ev.ItemDeleted)] == [
            "note_0",
            "note_1",
            "note_2",
        ]
        assert len(live.conversation) == 16
        # The session goes on: a reply reads the items kept, and its own item drops one more.
        assert reply_text(await ask(live, seen, "And now?")) == "Sure. Here you are."
        assert len(live.conversation) == 16
        assert seen.of(ev.ItemDeleted)[-1].item_id.startswith("note_")


async def test_a_reload_takes_effect_at_the_next_reply(write_config: WriteConfig) -> None:
    path = write_config(config(reply="one one one one one one one one", delay=0.05))
    async with (
        running_runtime(path, entry_points=True) as runtime,
        session(runtime) as (live, seen),
    ):
        old = runtime.current.slots["brain"]
        replying = asyncio.create_task(ask(live, seen, "count"))
        await seen.wait_for(lambda: bool(seen.of(ev.TextDelta)))
        path.write_text(config(reply="two two", delay=0), encoding="utf-8")
        result = await runtime.reload()
        assert result.ok and "brain" in result.changed
        assert old.engine is not None  # still serving the reply in progress
        first = await replying
        assert reply_text(first) == "one one one one one one one one"
        second = await ask(live, seen, "again")
        assert reply_text(second) == "two two"
        # The old engine is let go once the reply that held it is over.
        await seen.wait_for(lambda: old.engine is None or old.state.value == "closed")


async def test_silence_after_a_reply_asks_for_another(write_config: WriteConfig) -> None:
    async with (
        running_runtime(write_config(config()), entry_points=True) as runtime,
        session(runtime, turn_detection=ServerVadSettings(idle_timeout_ms=1000)) as (live, seen),
    ):
        await ask(live, seen, "hello")
        await feed(live, silence(1.5, PCM_BPS))
        await seen.wait_for(lambda: len(seen.of(ev.ResponseDone)) == 2)
        timed_out = seen.of(ev.InputTimedOut)
        assert len(timed_out) == 1
        assert timed_out[0].audio_end_ms - timed_out[0].audio_start_ms >= 1000
        nudge = CHAT_REQUESTS["brain"].messages[-1]
        assert nudge.role == "system" and "said nothing" in nudge.content
        # Once: more silence does not ask again until the user has had another reply.
        await feed(live, silence(1.5, PCM_BPS))
        assert len(seen.of(ev.InputTimedOut)) == 1


@pytest.mark.parametrize(("milliseconds", "committed"), [(100, True), (150, True), (90, False)])
async def test_a_commit_takes_all_the_audio_appended(
    write_config: WriteConfig, milliseconds: int, committed: bool
) -> None:
    """The resampler and the framer hold back the last ~30 ms: exactly 100 ms appended (the
    least a commit takes) was refused as 64 ms."""
    async with (
        running_runtime(write_config(config()), entry_points=True) as runtime,
        session(runtime) as (live, seen),
    ):
        await live.update(SessionPatch(turn_detection=None))
        await live.append(bytes(milliseconds * PCM_BPS // 1000))
        if committed:
            await live.commit()
            await seen.wait_for(lambda: bool(seen.of(ev.TranscriptDone)))
            return
        with pytest.raises(RealtimeError, match="buffer too small") as refused:
            await live.commit()
        assert f"{milliseconds} ms are" in refused.value.message


async def test_turn_detection_can_be_switched_off_and_on(write_config: WriteConfig) -> None:
    async with (
        running_runtime(write_config(config()), entry_points=True) as runtime,
        session(runtime) as (live, seen),
    ):
        await live.update(SessionPatch(turn_detection=None))
        await feed(live, pcm16(speech(SENTENCES[3])) + silence(1.0, PCM_BPS))
        assert not seen.of(ev.SpeechStarted)
        await live.commit()
        await seen.wait_for(lambda: bool(seen.of(ev.TranscriptDone)))
        assert not seen.of(ev.ResponseCreated)
        await live.update(SessionPatch(turn_detection=ServerVadSettings()))
        await feed(live, pcm16(speech(SENTENCES[3])) + silence(1.0, PCM_BPS))
        await seen.wait_for(lambda: bool(seen.of(ev.ResponseDone)))
        assert len(seen.of(ev.SpeechStarted)) == 1
        changed = seen.of(ev.SessionChanged)
        assert [c.settings.turn_detection is None for c in changed] == [False, True, False]
        assert dataclasses.replace(changed[-1].settings) == live.settings


async def test_without_interruption_the_next_reply_waits_its_turn(
    write_config: WriteConfig,
) -> None:
    async with (
        running_runtime(
            write_config(config(reply="One more thing. And another one.")), entry_points=True
        ) as runtime,
        session(
            runtime,
            output_lead=0.0,  # sent in real time: the reply lasts as long as its audio
            turn_detection=ServerVadSettings(interrupt_response=False),
        ) as (live, seen),
    ):
        await live.create_item(
            Item("first", role="user", content=[Content("input_text", text="hi")]), None
        )
        live.create_response(ResponseRequest())
        await seen.wait_for(lambda: bool(seen.of(ev.AudioDelta)))
        await feed(live, pcm16(voiced(SENTENCES[1])) + silence(1.0, PCM_BPS))
        await seen.wait_for(lambda: len(seen.of(ev.ResponseDone)) == 2, timeout=20)
    first, second = (e.response for e in seen.of(ev.ResponseDone))
    assert first.status == second.status == "completed"
    created = seen.of(ev.ResponseCreated)
    assert created[1].response.id == second.id
    # The user spoke during the first reply, which went on; the second came after it.
    assert seen.index(ev.SpeechStarted) < seen.events.index(seen.of(ev.ResponseDone)[0])
    assert seen.events.index(seen.of(ev.ResponseDone)[0]) < seen.events.index(created[1])


async def test_closing_during_a_reply_lets_go_of_its_generation(
    write_config: WriteConfig,
) -> None:
    """The reply ends as the session closes; its release of the generation has run by the time
    the replies are closed, before the session cancels its background work (a release cancelled
    before it began left the generation held, and a reload waits until none holds it)."""
    async with running_runtime(
        write_config(config(reply="One more thing. And another one.")), entry_points=True
    ) as runtime:
        generation = runtime.current
        async with session(runtime, output_lead=0.0) as (live, seen):
            await live.create_item(
                Item("first", role="user", content=[Content("input_text", text="hi")]), None
            )
            live.create_response(ResponseRequest())
            await seen.wait_for(lambda: bool(seen.of(ev.AudioDelta)))
            assert generation.leases == 1
            await live.replies.aclose()
            assert generation.leases == 0
        assert generation.leases == 0


async def test_a_failed_transcript_is_reported_and_gets_no_reply(write_config: WriteConfig) -> None:
    async with (
        running_runtime(write_config(config()), entry_points=True) as runtime,
        session(runtime) as (live, seen),
    ):
        SWITCHES["ears"] = "fail"
        await feed(live, pcm16(speech(SENTENCES[2])) + silence(1.0, PCM_BPS))
        await seen.wait_for(lambda: bool(seen.of(ev.TranscriptDone)))
        await asyncio.sleep(0.2)
    failed = seen.of(ev.TranscriptFailed)
    assert len(failed) == 1 and failed[0].error.code == "engines_unavailable"
    assert not seen.of(ev.ResponseCreated)


async def test_other_front_doors_may_use_other_formats(write_config: WriteConfig) -> None:
    """16 kHz PCM both ways, as a Wyoming satellite speaks it."""
    wideband = AudioFormat("pcm_s16le", 16_000)
    async with (
        running_runtime(write_config(config(reply="Fine.")), entry_points=True) as runtime,
        session(runtime) as (live, seen),
    ):
        await live.update(SessionPatch(input_format=wideband, output_format=wideband))
        clip = at_rate(speech(SENTENCES[3]), 16_000).to_pcm16() + b"\x00" * 32_000
        for offset in range(0, len(clip), 3200):
            await live.append(clip[offset : offset + 3200])
        await seen.wait_for(lambda: bool(seen.of(ev.ResponseDone)))
    audio = b"".join(e.audio for e in seen.of(ev.AudioDelta))
    # The fake voice says one sentence in 8 chunks of 0.1 s: 0.8 s at 16 kHz, 16 bits.
    assert len(audio) == pytest.approx(0.8 * 32_000, rel=0.02)
    assert seen.of(ev.TranscriptDone)[0].transcript == "hello there"


async def test_a_reply_that_may_call_functions_skips_an_engine_without_tools(
    write_config: WriteConfig,
) -> None:
    # The tool-calling fake counts as a cloud engine: hybrid mode lets it serve.
    text = (
        config(reply="Just words.")
        .replace("mode: local", "mode: hybrid")
        .replace(
            "routes: {stt: [ears], llm: [brain]",
            "  hands: {capability: llm, engine: fake_tools}\n"
            "routes: {stt: [ears], llm: [brain, hands]",
        )
    )
    tool = {"type": "function", "name": "count", "parameters": {"type": "object"}}
    async with (
        running_runtime(write_config(text), entry_points=True) as runtime,
        session(runtime) as (live, seen),
    ):
        # No tools: the first engine answers in words.
        plain = await ask(live, seen, "hello")
        assert [i.type for i in plain.output] == ["message"]
        assert reply_text(plain) == "Just words."
        await live.update(SessionPatch(tools=(tool,), tool_choice="required"))
        called = await ask(live, seen, "count please")
        assert called.status == "completed"
        assert [(i.type, i.name, i.arguments) for i in called.output] == [
            ("function_call", "count", '{"n": 1}')
        ]
        done = seen.of(ev.CallArgumentsDone)[-1]
        assert (done.call_id, done.arguments) == ("call_fake1", '{"n": 1}')
        # The call and its output are in the next reply's context, as a tool exchange.
        await live.create_item(
            Item("out", type="function_call_output", call_id="call_fake1", output="1"), None
        )
        live.create_response(ResponseRequest(modalities=("text",), tool_choice="none"))
        await seen.wait_for(lambda: len(seen.of(ev.ResponseDone)) == 3)
        assert CHAT_REQUESTS["hands"].uses_tools
        sent = CHAT_REQUESTS["brain"]
        assert [m.role for m in sent.messages][-3:] == ["user", "assistant", "tool"]
        assert sent.messages[-2].tool_calls[0].id == "call_fake1"
        assert not sent.uses_tools


async def test_an_items_audio_is_held_to_the_buffer_limit(write_config: WriteConfig) -> None:
    async with (
        running_runtime(write_config(config()), entry_points=True) as runtime,
        session(runtime, limits=RealtimeLimits(max_buffer=2)) as (live, seen),
    ):
        said = Content("input_text", text="listen")
        for seconds in (2, 3):
            item = Item(f"item_{seconds}", role="user", content=[said, Content("input_audio")])
            clip = bytes(seconds * PCM_BPS)
            if seconds == 2:
                await live.create_item(item, None, clip)
                await seen.wait_for(lambda: bool(seen.of(ev.TranscriptDone)))
                continue
            with pytest.raises(RealtimeError, match="at most 2 seconds") as refused:
                await live.create_item(item, None, clip)
            assert refused.value.param == "item.content.1.audio"
        # The refused item was not added.
        assert [i.id for i in live.conversation] == ["item_2"]


@pytest.mark.parametrize(
    ("content_index", "audio_end_ms", "param"),
    [(3, 0, "content_index"), (0, 10**9, "audio_end_ms")],
    ids=["no_such_part", "beyond_the_audio"],
)
async def test_a_refused_truncation_leaves_the_reply_being_spoken_alone(
    write_config: WriteConfig, content_index: int, audio_end_ms: int, param: str
) -> None:
    reply = "The first sentence is here. The second one follows it. A third ends the reply."
    async with (
        running_runtime(write_config(config(reply=reply)), entry_points=True) as runtime,
        session(runtime, output_lead=0.1) as (live, seen),
    ):
        await live.create_item(
            Item("asked", role="user", content=[Content("input_text", text="talk")]), None
        )
        live.create_response(ResponseRequest())
        await seen.wait_for(lambda: bool(seen.of(ev.AudioDelta)))
        item_id = seen.of(ev.AudioDelta)[0].ref.item_id
        with pytest.raises(RealtimeError) as refused:
            live.truncate_item(item_id, content_index, audio_end_ms)
        assert refused.value.param == param
        # The reply goes on to its end, and was not cut.
        await seen.wait_for(lambda: bool(seen.of(ev.ResponseDone)), timeout=30)
    assert seen.of(ev.ResponseDone)[0].response.status == "completed"
    assert not seen.of(ev.ItemTruncated)


async def test_the_id_of_the_turn_being_spoken_is_taken(write_config: WriteConfig) -> None:
    """speech_started announces the id the turn's item will have: a client's item may not take
    it (before, the turn could not be committed and its transcript was lost)."""
    audio = pcm16(speech(SENTENCES[0])) + silence(1.0, PCM_BPS)
    async with (
        running_runtime(write_config(config()), entry_points=True) as runtime,
        session(runtime) as (live, seen),
    ):
        step = PCM_BPS // 10
        offset = 0
        while not seen.of(ev.SpeechStarted):
            await live.append(audio[offset : offset + step])
            offset += step
        turn_id = seen.of(ev.SpeechStarted)[0].item_id
        taken = Item(turn_id, role="user", content=[Content("input_text", text="mine")])
        with pytest.raises(RealtimeError) as refused:
            await live.create_item(taken, None)
        assert (refused.value.code, refused.value.param) == ("duplicate_item_id", "item.id")
        await feed(live, audio[offset:])
        await seen.wait_for(lambda: bool(seen.of(ev.ResponseDone)))
    assert [e.item_id for e in seen.of(ev.InputCommitted)] == [turn_id]
    assert seen.of(ev.TranscriptDone)[0].item_id == turn_id


async def test_a_transcript_goes_to_its_own_item_not_a_newer_one_with_its_id(
    write_config: WriteConfig,
) -> None:
    """An item deleted while its audio is transcribed, and a new item made with the same id:
    the late transcript belongs to neither (before, it replaced the new item's content)."""
    async with (
        running_runtime(write_config(config()), entry_points=True) as runtime,
        session(runtime) as (live, seen),
    ):
        said = [Content("input_text", text="first"), Content("input_audio")]
        await live.create_item(Item("reused", role="user", content=said), None, bytes(PCM_BPS))
        live.delete_item("reused")
        mine = [Content("input_text", text="mine"), Content("input_text", text="also mine")]
        await live.create_item(Item("reused", role="user", content=list(mine)), None)
        live.create_response(ResponseRequest(modalities=("text",)))
        await seen.wait_for(lambda: bool(seen.of(ev.ResponseDone)))
        assert live.conversation.get("reused").content == mine
    assert not seen.of(ev.TranscriptDone)
