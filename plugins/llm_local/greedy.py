"""Greedy decoding (temperature 0) in numpy, for llama-cpp-python's token loop.

llama.cpp samples by copying every logit into a candidate array and running its sampler chain
over it; its repetition penalties look each of the ~50,000 candidates up in a hash map. For a
greedy pick that is ~0.4 ms a token, 4% of SmolLM2's decoding time on two cores. Only the
tokens in the penalty window can change, so this adjusts those few logits (in place, put back
afterwards) and takes the argmax: ~0.16 ms, most of it reading the fresh logits, and the same
token (float32 arithmetic as llama.cpp's, first maximum on ties).

It is installed per model by replacing the loaded ``Llama``'s ``_init_sampler`` for the one case
it covers (temperature 0, no grammar, no logits processors, no mirostat); every other request
gets llama.cpp's own chain. Imported only when an engine loads.
"""

from __future__ import annotations

import ctypes
from collections import Counter, deque
from typing import Any

import llama_cpp
import numpy as np


class GreedySampler:
    """Takes the place of llama-cpp-python's sampler for one generation: ``sample`` picks a
    token and remembers it for the repetition penalties, as ``llama_sampler_sample`` does."""

    def __init__(
        self, n_vocab: int, last_n: int, repeat: float, frequency: float, presence: float
    ) -> None:
        self._n_vocab = n_vocab
        self._repeat = np.float32(repeat)
        self._frequency = np.float32(frequency)
        self._presence = np.float32(presence)
        self._penalised = last_n > 0 and not (repeat == 1.0 and frequency == 0 and presence == 0)
        self._recent: deque[int] = deque(maxlen=max(last_n, 1))
        self._counts: Counter[int] = Counter()

    def sample(self, ctx: Any, idx: int = -1) -> int:
        pointer = llama_cpp.llama_get_logits_ith(ctx.ctx, idx)
        logits = np.ctypeslib.as_array(
            ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), shape=(self._n_vocab,)
        )
        if self._penalised and self._counts:
            # The penalised logits are written in place for the argmax and put back after, so
            # the context's output is left as llama.cpp wrote it (no copy of the whole row).
            tokens = np.fromiter(self._counts.keys(), dtype=np.intp, count=len(self._counts))
            counts = np.fromiter(self._counts.values(), dtype=np.float32, count=len(tokens))
            original = logits[tokens]
            repeated = np.where(original <= 0, original * self._repeat, original / self._repeat)
            logits[tokens] = repeated - (counts * self._frequency + self._presence)
            try:
                token = int(logits.argmax())
            finally:
                logits[tokens] = original
        else:
            token = int(logits.argmax())
        self._accept(token)
        return token

    def _accept(self, token: int) -> None:
        if not self._penalised:
            return
        if len(self._recent) == self._recent.maxlen:
            oldest = self._recent[0]
            self._counts[oldest] -= 1
            if not self._counts[oldest]:
                del self._counts[oldest]
        self._recent.append(token)
        self._counts[token] += 1


def install(llama: llama_cpp.Llama) -> None:
    """Route ``llama``'s greedy generations through :class:`GreedySampler`."""
    library_sampler = llama._init_sampler
    n_vocab = int(llama.n_vocab())
    last_n = int(llama.last_n_tokens_size)

    def init_sampler(**options: Any) -> Any:
        plain_greedy = (
            options.get("temp") == 0.0
            and options.get("grammar") is None
            and options.get("logits_processor") is None
            and not options.get("mirostat_mode")
        )
        if not plain_greedy:
            return library_sampler(**options)
        return GreedySampler(
            n_vocab,
            last_n,
            float(options.get("repeat_penalty", 1.0)),
            float(options.get("frequency_penalty", 0.0)),
            float(options.get("presence_penalty", 0.0)),
        )

    llama._init_sampler = init_sampler  # type: ignore[method-assign,assignment]
