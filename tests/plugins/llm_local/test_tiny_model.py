"""The engine on a tiny random-weight GGUF: the real llama.cpp loading, template and token path.

The tiny model's output is printable ASCII, one byte per token, and it never ends a reply on its
own, so token counts can be checked against text lengths exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from core.engines.errors import EngineUnavailable, InvalidRequest
from core.engines.llm import ChatMessage, ChatRequest
from plugins.llm_local.engine import LlamaCppEngine
from tests.plugins.llm_local.support import ask, build_engine, collect, loaded_engine, text_of
from tests.support.tiny_gguf import CHATML_TEMPLATE, write_tiny_gguf


@pytest.fixture(scope="module")
def engine(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppEngine]:
    root = tmp_path_factory.mktemp("tiny-engine")
    with loaded_engine({"model": str(tiny_gguf), "n_ctx": 32_768}, root) as engine:
        yield engine


def chatml_tokens(*messages: tuple[str, str]) -> int:
    """Prompt length under the tiny model's ChatML template: its markers are one token each,
    and every other character is one byte token (a space is one word-boundary token)."""
    turns = sum(2 + len(f"{role}\n{content}\n") for role, content in messages)
    return turns + 1 + len("assistant\n")


async def greedy(engine: LlamaCppEngine, text: str, max_tokens: int, **fields: object) -> str:
    deltas = await collect(engine, ask(text, temperature=0, max_tokens=max_tokens, **fields))
    return text_of(deltas)


async def test_a_reply_streams_token_by_token_and_ends_at_max_tokens(
    engine: LlamaCppEngine,
) -> None:
    deltas = await collect(engine, ask("Hello", temperature=0, max_tokens=24))
    *pieces, last = deltas
    assert len(pieces) >= 20, "tokens should arrive one by one, not as one block"
    reply = text_of(deltas)
    assert len(reply) == 24 and reply.isascii() and reply.isprintable()
    assert last.finish_reason == "length"
    assert last.usage is not None
    assert last.usage.prompt_tokens == chatml_tokens(("user", "Hello"))
    assert last.usage.completion_tokens == 24
    assert all(delta.finish_reason is None and delta.usage is None for delta in pieces)


async def test_the_engine_default_max_tokens_applies(tiny_gguf: Path, tmp_path: Path) -> None:
    engine = build_engine({"model": str(tiny_gguf), "max_tokens": 7}, tmp_path)
    await engine.load()
    try:
        deltas = await collect(engine, ask("Hi", temperature=0))
    finally:
        await engine.close()
    assert len(text_of(deltas)) == 7
    assert deltas[-1].usage is not None and deltas[-1].usage.completion_tokens == 7


async def test_a_stop_sequence_ends_the_reply_before_it(engine: LlamaCppEngine) -> None:
    full = await greedy(engine, "Tell me", 40)
    stop = full[12:15]
    deltas = await collect(engine, ask("Tell me", temperature=0, max_tokens=40, stop=(stop,)))
    assert text_of(deltas) == full[: full.index(stop)]
    assert deltas[-1].finish_reason == "stop"
    assert deltas[-1].usage is not None
    # The tokens of the stop sequence were generated (and counted) but not sent.
    assert deltas[-1].usage.completion_tokens == full.index(stop) + len(stop)


async def test_the_earliest_of_several_stop_sequences_wins(engine: LlamaCppEngine) -> None:
    full = await greedy(engine, "Tell me", 40)
    late, early = full[20:23], full[5:7]
    reply = await greedy(engine, "Tell me", 40, stop=(late, early))
    assert reply == full[: min(full.index(late), full.index(early))]


async def test_a_seed_makes_sampling_reproducible(engine: LlamaCppEngine) -> None:
    async def sample(seed: int) -> str:
        request = ask("Pick", temperature=1.0, max_tokens=30, seed=seed, extra={"top_k": 0})
        return text_of(await collect(engine, request))

    first = await sample(7)
    assert await sample(7) == first
    assert len({first, *[await sample(seed) for seed in (8, 9, 10)]}) > 1


async def test_a_developer_message_is_rendered_as_a_system_turn(engine: LlamaCppEngine) -> None:
    request = ChatRequest(
        messages=(ChatMessage("developer", "Be brief"), ChatMessage("user", "Hi")),
        temperature=0,
        max_tokens=1,
    )
    usage = (await collect(engine, request))[-1].usage
    assert usage is not None
    assert usage.prompt_tokens == chatml_tokens(("system", "Be brief"), ("user", "Hi"))


async def test_concurrent_requests_take_turns_and_both_complete(engine: LlamaCppEngine) -> None:
    alone = [await greedy(engine, prompt, 200) for prompt in ("first", "second")]
    together = await asyncio.gather(*(greedy(engine, p, 200) for p in ("first", "second")))
    # Interleaved use of one llama.cpp context would corrupt both replies (or crash).
    assert list(together) == alone


async def test_closing_the_stream_stops_generation_and_frees_the_model(
    engine: LlamaCppEngine,
) -> None:
    asked = 30_000  # far longer than the test waits for
    stream = engine.chat(ask("Write forever", temperature=0, max_tokens=asked))
    assert isinstance(stream, AsyncGenerator)
    with capture_logs() as logs:
        received = [await anext(stream) for _ in range(3)]
        await stream.aclose()
    assert all(delta.text for delta in received)
    cancelled = [entry for entry in logs if entry["event"] == "llm.generation_cancelled"]
    assert len(cancelled) == 1
    assert 3 <= cancelled[0]["completion_tokens"] < asked
    # The model is free: the next request runs to its end.
    deltas = await collect(engine, ask("Next", temperature=0, max_tokens=16))
    assert deltas[-1].finish_reason == "length"
    assert len(text_of(deltas)) == 16


async def test_a_request_waiting_for_the_model_can_leave_the_queue(
    engine: LlamaCppEngine,
) -> None:
    running = engine.chat(ask("Busy", temperature=0, max_tokens=30_000))
    assert isinstance(running, AsyncGenerator)
    await anext(running)
    waiting = asyncio.ensure_future(collect(engine, ask("Queued", temperature=0, max_tokens=5)))
    await asyncio.sleep(0.2)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await running.aclose()
    assert len(await greedy(engine, "After", 5)) == 5


async def test_a_prompt_longer_than_the_context_is_a_client_error(
    tiny_gguf: Path, tmp_path: Path
) -> None:
    engine = build_engine({"model": str(tiny_gguf), "n_ctx": 64}, tmp_path)
    await engine.load()
    try:
        with pytest.raises(InvalidRequest, match="n_ctx") as error:
            await collect(engine, ask("x" * 100))
        assert error.value.param == "messages"
        # A prompt that fits leaves less room than asked for: the reply stops at the context end.
        text = "y" * 30
        deltas = await collect(engine, ask(text, temperature=0, max_tokens=100))
        room = 64 - chatml_tokens(("user", text))
        assert deltas[-1].finish_reason == "length"
        assert len(text_of(deltas)) == room
    finally:
        await engine.close()


async def test_a_gguf_without_a_template_needs_a_named_chat_format(tmp_path: Path) -> None:
    bare = write_tiny_gguf(tmp_path / "bare.gguf", chat_template=None)
    with pytest.raises(EngineUnavailable, match=r"no chat template.*chatml"):
        await build_engine({"model": str(bare)}, tmp_path).load()
    with pytest.raises(EngineUnavailable, match="unknown chat_format 'nonsense'"):
        await build_engine({"model": str(bare), "chat_format": "nonsense"}, tmp_path).load()

    engine = build_engine({"model": str(bare), "chat_format": "chatml"}, tmp_path)
    await engine.load()
    try:
        assert engine.info()["chat_template"] == "chatml"
        deltas = await collect(engine, ask("Hello", temperature=0, max_tokens=5))
    finally:
        await engine.close()
    assert len(text_of(deltas)) == 5
    assert deltas[-1].usage is not None
    # llama-cpp-python's chatml writes an empty system turn when none is given, and leaves the
    # BOS token to the tokenizer (this model asks for one).
    expected = 1 + chatml_tokens(("system", ""), ("user", "Hello"))
    assert deltas[-1].usage.prompt_tokens == expected


async def test_messages_the_template_rejects_are_a_client_error(tmp_path: Path) -> None:
    strict = (
        "{% if messages[0]['role'] != 'user' %}"
        "{{ raise_exception('the first message must come from the user') }}{% endif %}"
        + CHATML_TEMPLATE
    )
    engine = build_engine(
        {"model": str(write_tiny_gguf(tmp_path / "strict.gguf", chat_template=strict))}, tmp_path
    )
    await engine.load()
    try:
        request = ChatRequest(
            messages=(ChatMessage("system", "Rules"), ChatMessage("user", "Hi")), max_tokens=2
        )
        with pytest.raises(InvalidRequest, match="first message must come from the user") as error:
            await collect(engine, request)
        assert error.value.param == "messages"
        assert len(await greedy(engine, "Hi", 2)) == 2
    finally:
        await engine.close()


async def test_a_closed_engine_refuses_requests(tiny_gguf: Path, tmp_path: Path) -> None:
    engine = build_engine({"model": str(tiny_gguf)}, tmp_path)
    await engine.load()
    await engine.close()
    with pytest.raises(EngineUnavailable, match="not loaded"):
        await collect(engine, ask("Hi"))
