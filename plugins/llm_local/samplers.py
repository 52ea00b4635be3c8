"""Cheaper token picks for llama-cpp-python's token loop, with the same results.

llama.cpp samples by copying every logit into a candidate array and running its sampler chain
over it, and its repetition penalties look each of the ~50,000 candidates up in a hash map:
~0.4 ms a token, 4% of SmolLM2's decoding time on two cores. Two replacements, installed per
model over the loaded ``Llama``'s ``_init_sampler``:

- Greedy (temperature 0): only the tokens in the penalty window can change, so
  :class:`GreedySampler` adjusts those few logits (in place, put back afterwards) and takes the
  argmax: ~0.16 ms, most of it reading the fresh logits, and the same token (float32 arithmetic
  as llama.cpp's, first maximum on ties).
- Sampling with ``top_k``: llama-cpp-python's own chain with a wider top-k in front of the
  penalties. Penalties that only lower logits (repeat >= 1, frequency and presence >= 0) touch at
  most ``last_n`` tokens, so the final top ``k`` always lies within the top ``k + last_n``: the
  candidates, their probabilities and the seeded draw are the same, over 100 tokens instead of
  the whole vocabulary.

Anything else (grammars, logits processors, mirostat, no top-k, penalties that raise logits) gets
llama-cpp-python's chain unchanged. Imported only when an engine loads.
"""

from __future__ import annotations

import ctypes
from collections import Counter, deque
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import _internals


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
    """Route ``llama``'s generations through the cheaper samplers where they apply."""
    library_sampler = llama._init_sampler
    n_vocab = int(llama.n_vocab())
    last_n = int(llama.last_n_tokens_size)

    def init_sampler(**options: Any) -> Any:
        if (
            options.get("grammar") is not None
            or options.get("logits_processor") is not None
            or options.get("mirostat_mode")
        ):
            return library_sampler(**options)
        repeat = float(options.get("repeat_penalty", 1.0))
        frequency = float(options.get("frequency_penalty", 0.0))
        presence = float(options.get("presence_penalty", 0.0))
        temperature = float(options.get("temp", 0.8))
        if temperature == 0.0:
            return GreedySampler(n_vocab, last_n, repeat, frequency, presence)
        top_k = int(options.get("top_k", 40))
        lowers_only = repeat >= 1.0 and frequency >= 0.0 and presence >= 0.0
        seed = getattr(llama, "_seed", None)
        narrows = top_k > 0 and top_k + last_n < n_vocab
        if temperature < 0.0 or not narrows or not lowers_only or seed is None:
            return library_sampler(**options)
        chain = _internals.LlamaSampler()  # type: ignore[no-untyped-call]
        chain.add_top_k(top_k + last_n)
        chain.add_penalties(
            n_vocab=n_vocab,
            penalty_last_n=last_n,
            penalty_repeat=repeat,
            penalty_freq=frequency,
            penalty_present=presence,
        )
        # From here on as llama-cpp-python builds its chain.
        chain.add_top_k(top_k)
        chain.add_typical(float(options.get("typical_p", 1.0)), 1)
        chain.add_top_p(float(options.get("top_p", 0.95)), 1)
        chain.add_min_p(float(options.get("min_p", 0.05)), 1)
        chain.add_temp(temperature)
        chain.add_dist(seed)
        return chain

    llama._init_sampler = init_sampler  # type: ignore[method-assign,assignment]
