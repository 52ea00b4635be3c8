"""Request fields over engine defaults, and the llama.cpp-specific extras."""

from __future__ import annotations

import pytest

from core.engines.errors import InvalidRequest
from core.engines.llm import ChatMessage, ChatRequest
from plugins.llm_local.sampling_params import sampling_for
from plugins.llm_local.settings import LlamaCppSettings

MESSAGES = (ChatMessage("user", "hi"),)


def test_engine_defaults_apply_when_the_request_leaves_fields_out() -> None:
    settings = LlamaCppSettings(temperature=0.3, top_k=7, max_tokens=33, seed=5)
    sampling = sampling_for(settings, ChatRequest(messages=MESSAGES))
    assert (sampling.temperature, sampling.top_k, sampling.max_tokens, sampling.seed) == (
        0.3,
        7,
        33,
        5,
    )


def test_request_fields_and_extras_override_the_defaults() -> None:
    request = ChatRequest(
        messages=MESSAGES,
        temperature=0.0,
        top_p=0.5,
        max_tokens=9,
        stop=("x",),
        seed=11,
        extra={"top_k": 3, "repeat_penalty": 1.3, "presence_penalty": 0.5, "user": "u1"},
    )
    sampling = sampling_for(LlamaCppSettings(), request)
    assert sampling.temperature == 0.0
    assert sampling.top_p == 0.5
    assert sampling.max_tokens == 9
    assert sampling.stop == ("x",)
    assert sampling.seed == 11
    assert (sampling.top_k, sampling.repeat_penalty, sampling.presence_penalty) == (3, 1.3, 0.5)


def test_without_a_seed_each_request_draws_its_own() -> None:
    seeds = {
        sampling_for(LlamaCppSettings(), ChatRequest(messages=MESSAGES)).seed for _ in range(8)
    }
    assert len(seeds) > 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("top_k", "many"), ("top_k", 2.5), ("top_k", True), ("min_p", 1.5), ("repeat_penalty", -1)],
)
def test_bad_extras_are_client_errors_naming_the_field(field: str, value: object) -> None:
    request = ChatRequest(messages=MESSAGES, extra={field: value})
    with pytest.raises(InvalidRequest) as error:
        sampling_for(LlamaCppSettings(), request)
    assert error.value.param == field
