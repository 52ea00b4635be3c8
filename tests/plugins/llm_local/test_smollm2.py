"""The packaged default model, SmolLM2-135M-Instruct, answering through the engine."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.engines.llm import ChatRequest
from plugins.llm_local import samplers
from plugins.llm_local.engine import LlamaCppEngine
from plugins.llm_local.loaded_model import LoadedModel
from plugins.llm_local.sampling_params import sampling_for
from plugins.llm_local.settings import LlamaCppSettings
from tests.plugins.llm_local.support import (
    ask,
    build_engine,
    collect,
    loaded_engine,
    text_of,
)

# Questions with a clear next token after the given start of an answer.
PROMPTS = [
    ("What is the capital of France?", "The capital of France is"),
    ("Count from one to five.", "One, two, three,"),
    ("Name three colours of the rainbow.", "The rainbow is a beautiful and magical sight, but"),
]


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


def next_token_distribution(llama: Any, prompt: str) -> np.ndarray:
    """The model's probabilities for the token after ``prompt`` (left in a fresh state)."""
    import llama_cpp

    tokens = llama.tokenize(prompt.encode(), add_bos=False, special=True)
    llama.reset()
    llama.eval(tokens)
    logits = np.ctypeslib.as_array(
        llama_cpp.llama_get_logits_ith(llama.ctx, -1), shape=(llama.n_vocab(),)
    ).astype(np.float64)
    llama.reset()
    probabilities: np.ndarray = np.exp(logits - logits.max())
    return probabilities / probabilities.sum()


async def test_flash_attention_is_on_by_default_and_predicts_like_plain_attention(
    engine: LlamaCppEngine, tmp_path: Path
) -> None:
    """Fused attention rounds differently (as a change of KV-cache precision does), so a greedy
    reply may take another turn where two tokens are nearly tied; the predictions themselves
    must agree."""
    import llama_cpp

    model = engine._model
    assert model is not None and engine.info()["flash_attn"] is True
    assert model.llama.context_params.flash_attn_type == llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
    plain = build_engine({"flash_attn": False}, tmp_path)
    await plain.load()
    try:
        assert plain._model is not None
        disabled = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        assert plain._model.llama.context_params.flash_attn_type == disabled
        for question, start in PROMPTS:
            prompt = f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n{start}"
            fused = next_token_distribution(model.llama, prompt)
            expected = next_token_distribution(plain._model.llama, prompt)
            kl = float(np.sum(expected * np.log(expected / np.maximum(fused, 1e-30))))
            assert kl < 0.02, (question, kl)
            assert fused.argmax() == expected.argmax(), question
    finally:
        await plain.close()


def library_reply(model: LoadedModel, request: ChatRequest, settings: LlamaCppSettings) -> str:
    """The reply with llama.cpp's own sampler chain instead of voxgate's greedy pick."""
    del model.llama._init_sampler  # the instance's override: the class method again
    try:
        return reply_text(model, request, settings)
    finally:
        samplers.install(model.llama)


def reply_text(model: LoadedModel, request: ChatRequest, settings: LlamaCppSettings) -> str:
    deltas = model.reply(request, sampling_for(settings, request), threading.Event(), engine="t")
    return "".join(delta.text for delta in deltas)


@pytest.mark.parametrize(
    "penalties",
    [
        {},  # the engine's default repeat penalty
        {"repeat_penalty": 1.0},
        {"repeat_penalty": 1.3, "frequency_penalty": 0.5, "presence_penalty": 0.4},
        {"repeat_penalty": 1.05, "frequency_penalty": -0.3},  # raises seen tokens
    ],
)
def test_greedy_replies_match_llama_cpp_sampler_token_for_token(
    engine: LlamaCppEngine, penalties: dict[str, float]
) -> None:
    model = engine._model
    assert model is not None
    # Longer than the 64-token penalty window, so tokens also leave it.
    request = ask(
        "Write a story about a lighthouse.", temperature=0, max_tokens=120, extra=penalties
    )
    ours = reply_text(model, request, engine.settings)
    assert len(ours) > 200
    assert ours == library_reply(model, request, engine.settings)


def chain_length(sampler: Any) -> int:
    import llama_cpp

    return int(llama_cpp.llama_sampler_chain_n(sampler.sampler))


@pytest.mark.parametrize(
    "penalties",
    [{}, {"repeat_penalty": 1.3, "frequency_penalty": 0.4, "presence_penalty": 0.2}],
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sampled_replies_match_llama_cpp_chain_token_for_token(
    engine: LlamaCppEngine, penalties: dict[str, float], seed: int
) -> None:
    model = engine._model
    assert model is not None
    request = ask(
        "Write a story about a lighthouse.",
        temperature=0.9,
        max_tokens=100,
        seed=seed,
        extra={"top_k": 40, "min_p": 0.0, **penalties},  # a wide choice at every step
    )
    ours = reply_text(model, request, engine.settings)
    assert len(ours) > 150
    assert ours == library_reply(model, request, engine.settings)


def test_each_request_gets_the_sampler_its_settings_allow(engine: LlamaCppEngine) -> None:
    model = engine._model
    assert model is not None
    choose = model.llama._init_sampler
    assert isinstance(choose(temp=0.0), samplers.GreedySampler)
    sampled = {"temp": 0.7, "top_k": 40, "top_p": 0.9, "min_p": 0.05, "repeat_penalty": 1.1}
    # A wider top-k in front of llama-cpp-python's seven samplers.
    assert chain_length(choose(**sampled)) == 8
    # Penalties that can raise a logit, or no top-k at all: llama-cpp-python's chain as it is.
    assert chain_length(choose(**{**sampled, "frequency_penalty": -0.5})) == 7
    assert chain_length(choose(**{**sampled, "top_k": 0})) == 7
