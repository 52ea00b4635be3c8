"""The sampling parameters of one request: the engine's defaults, overridden by the request.

Besides the OpenAI fields (temperature, top_p, max_tokens, stop, seed, frequency and presence
penalties), requests may set llama.cpp's own ``top_k``, ``min_p`` and ``repeat_penalty``, as
llama.cpp's server accepts them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.engines.errors import InvalidRequest
from core.engines.llm import ChatRequest
from plugins.llm_local.settings import LlamaCppSettings


@dataclass(frozen=True, slots=True)
class Sampling:
    temperature: float
    top_p: float
    top_k: int
    min_p: float
    repeat_penalty: float
    frequency_penalty: float
    presence_penalty: float
    max_tokens: int
    seed: int
    stop: tuple[str, ...]


#: Extra request fields understood here: name -> (type, lowest, highest).
_EXTRA_FIELDS: dict[str, tuple[type, float, float]] = {
    "top_k": (int, 0, 1_000_000),
    "min_p": (float, 0.0, 1.0),
    "repeat_penalty": (float, 0.0, 10.0),
    "frequency_penalty": (float, -2.0, 2.0),
    "presence_penalty": (float, -2.0, 2.0),
}


def _extra(extra: Mapping[str, Any], name: str, default: float) -> Any:
    value = extra.get(name)
    if value is None:
        return default
    kind, low, high = _EXTRA_FIELDS[name]
    # bool is an int subclass, but `"top_k": true` is a client bug, not 1.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequest(f"{name} must be a number", param=name)
    if kind is int and not float(value).is_integer():
        raise InvalidRequest(f"{name} must be an integer", param=name)
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be between {low} and {high}", param=name)
    return kind(value)


def sampling_for(settings: LlamaCppSettings, request: ChatRequest) -> Sampling:
    extra = request.extra
    seed = request.seed if request.seed is not None else settings.seed
    return Sampling(
        temperature=settings.temperature if request.temperature is None else request.temperature,
        top_p=settings.top_p if request.top_p is None else request.top_p,
        top_k=_extra(extra, "top_k", settings.top_k),
        min_p=_extra(extra, "min_p", settings.min_p),
        repeat_penalty=_extra(extra, "repeat_penalty", settings.repeat_penalty),
        frequency_penalty=_extra(extra, "frequency_penalty", 0.0),
        presence_penalty=_extra(extra, "presence_penalty", 0.0),
        max_tokens=request.max_tokens or settings.max_tokens,
        # llama.cpp takes a 32-bit seed; a fresh one per request unless the client fixed one.
        seed=(seed if seed is not None else random.getrandbits(32)) % 2**32,
        stop=request.stop,
    )
