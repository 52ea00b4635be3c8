"""The packaged default model, SmolLM2-135M-Instruct, answering through the engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from plugins.llm_local.engine import LlamaCppEngine
from tests.plugins.llm_local.support import ask, collect, loaded_engine, text_of


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppEngine]:
    with loaded_engine({}, tmp_path_factory.mktemp("smollm2")) as engine:
        yield engine


def test_the_default_model_is_the_packaged_smollm2(engine: LlamaCppEngine) -> None:
    info = engine.info()
    assert Path(info["path"]).name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert info["chat_template"] == "gguf"


async def test_it_answers_a_simple_question_in_streamed_pieces(engine: LlamaCppEngine) -> None:
    request = ask(
        "What is the capital of France? Answer in one sentence.", temperature=0, max_tokens=48
    )
    deltas = await collect(engine, request)
    answer = text_of(deltas)
    assert "Paris" in answer
    assert sum(1 for delta in deltas if delta.text) >= 5, "the reply should stream"
    last = deltas[-1]
    assert last.finish_reason in ("stop", "length")
    assert last.usage is not None
    assert last.usage.prompt_tokens > 10  # the template adds SmolLM2's default system turn
    assert 0 < last.usage.completion_tokens <= 48


async def test_it_ends_its_turn_on_its_own(engine: LlamaCppEngine) -> None:
    deltas = await collect(engine, ask("Say hello.", temperature=0, max_tokens=200))
    assert text_of(deltas).strip()
    assert deltas[-1].finish_reason == "stop"
    assert deltas[-1].usage is not None and deltas[-1].usage.completion_tokens < 200
    # Nothing of the chat markup leaks into the text.
    assert "<|im_end|>" not in text_of(deltas)
