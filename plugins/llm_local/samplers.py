"""Cheaper token picks for llama-cpp-python's token loop, with the same results.

llama.cpp samples by copying every logit into a candidate array and running its sampler chain
over it, and its repetition penalties look each candidate of the whole vocabulary up in a hash
map. Two replacements, installed per model over the loaded ``Llama``'s private
``_init_sampler``, on the llama-cpp-python releases they were verified on (library_check.py) and
only where that method still takes the options read here; otherwise llama-cpp-python's own
sampling stays:

- Greedy (temperature 0): only the tokens in the penalty window can change, so
  :class:`GreedySampler` adjusts those few logits (in place, put back afterwards) and takes the
  argmax: the same token (float32 arithmetic as llama.cpp's, first maximum on ties), without a
  pass over the whole vocabulary.
- Sampling with ``top_k``: llama-cpp-python's own chain with a wider top-k in front of the
  penalties. Penalties that only lower logits (repeat >= 1, frequency and presence >= 0) touch at
  most ``last_n`` tokens, so the final top ``k`` always lies within the top ``k + last_n``: the
  candidates, their probabilities and the seeded draw are the same, over 100 tokens instead of
  the whole vocabulary.

- A grammar (JSON held to a schema, a function call): the pick above is made first and only
  checked against the grammar (llama.cpp's own tools do the same): checking one candidate costs
  far less than running the grammar over every candidate, as llama-cpp-python does at every
  step (bench/bench_constrained.py measures both). When the grammar rejects a greedy pick, the
  next likeliest tokens are checked one by one (up to 32) before the whole vocabulary is; a
  rejected sampled pick goes to the whole vocabulary at once, since an exact shortcut would need
  all of the distribution's allowed part. Either way the token is the one llama-cpp-python's
  grammar chain would pick (greedy), or drawn from the same distribution (sampled).

Anything else (logits processors, mirostat, no top-k, penalties that raise logits) gets
llama-cpp-python's chain unchanged. Imported only when an engine loads.
"""

from __future__ import annotations

import contextlib
import ctypes
import inspect
from collections import Counter, deque
from collections.abc import Iterator
from typing import Any

import llama_cpp
import numpy as np
import structlog
from llama_cpp import _internals

from plugins.llm_local import library_check

log = structlog.get_logger(__name__)

#: The options of ``Llama._init_sampler`` the replacement reads (and passes on unchanged).
_OPTIONS = frozenset(
    {
        "top_k",
        "top_p",
        "min_p",
        "typical_p",
        "temp",
        "repeat_penalty",
        "frequency_penalty",
        "presence_penalty",
        "mirostat_mode",
        "logits_processor",
        "grammar",
    }
)


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
        token = self.pick(self.logits(ctx, idx))
        self.accept(token)
        return token

    def logits(self, ctx: Any, idx: int) -> np.ndarray:
        """The context's logits for position ``idx``, as a view (no copy)."""
        return logits_view(ctx, idx, self._n_vocab)

    def pick(self, logits: np.ndarray, allowed: np.ndarray | None = None) -> int:
        """The highest penalised logit, among the ``allowed`` tokens if a mask is given;
        ``logits`` is left as it was."""
        with self._penalties(logits):
            return _argmax(logits, allowed)

    def ranked(self, logits: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``count`` tokens with the highest penalised logits and those logits, best first
        (ties: lower id first, as the argmax takes them)."""
        with self._penalties(logits):
            best = np.argpartition(-logits, count)[:count]
            values = logits[best]
            order = np.lexsort((best, -values))
            return best[order], values[order]

    @contextlib.contextmanager
    def _penalties(self, logits: np.ndarray) -> Iterator[None]:
        """The repetition penalties written into ``logits`` for the duration, then put back, so
        the context's output is left as llama.cpp wrote it (no copy of the whole row)."""
        if not (self._penalised and self._counts):
            yield
            return
        tokens = np.fromiter(self._counts.keys(), dtype=np.intp, count=len(self._counts))
        counts = np.fromiter(self._counts.values(), dtype=np.float32, count=len(tokens))
        original = logits[tokens]
        repeated = np.where(original <= 0, original * self._repeat, original / self._repeat)
        logits[tokens] = repeated - (counts * self._frequency + self._presence)
        try:
            yield
        finally:
            logits[tokens] = original

    def accept(self, token: int) -> None:
        if not self._penalised:
            return
        if len(self._recent) == self._recent.maxlen:
            oldest = self._recent[0]
            self._counts[oldest] -= 1
            if not self._counts[oldest]:
                del self._counts[oldest]
        self._recent.append(token)
        self._counts[token] += 1


def install(llama: llama_cpp.Llama) -> bool:
    """Route ``llama``'s generations through the cheaper samplers where they apply; False when
    this llama-cpp-python is not one they were verified on (its own sampling then stays)."""
    if not library_check.verified("samplers"):
        return False
    library_sampler = llama._init_sampler
    missing = _OPTIONS - set(inspect.signature(library_sampler).parameters)
    if missing:
        log.warning(
            "llm.library_patch_skipped",
            patch="samplers",
            reason="Llama._init_sampler no longer takes these options",
            missing=sorted(missing),
        )
        return False
    n_vocab = int(llama.n_vocab())
    last_n = int(llama.last_n_tokens_size)
    vocab = llama_cpp.llama_model_get_vocab(llama.model)
    candidates = Candidates(n_vocab)

    def init_sampler(**options: Any) -> Any:
        grammar = options.get("grammar")
        if options.get("logits_processor") is not None or options.get("mirostat_mode"):
            return library_sampler(**options)
        repeat = float(options.get("repeat_penalty", 1.0))
        frequency = float(options.get("frequency_penalty", 0.0))
        presence = float(options.get("presence_penalty", 0.0))
        temperature = float(options.get("temp", 0.8))
        if temperature == 0.0:
            greedy = GreedySampler(n_vocab, last_n, repeat, frequency, presence)
            if grammar is None:
                return greedy
            return ConstrainedGreedy(greedy, GrammarCheck(vocab, grammar._grammar), candidates)
        top_k = int(options.get("top_k", 40))
        lowers_only = repeat >= 1.0 and frequency >= 0.0 and presence >= 0.0
        seed = getattr(llama, "_seed", None)
        narrows = top_k > 0 and top_k + last_n < n_vocab
        if temperature < 0.0 or seed is None:
            return library_sampler(**options)
        chain = _internals.LlamaSampler()  # type: ignore[no-untyped-call]
        if narrows and lowers_only:
            chain.add_top_k(top_k + last_n)
        elif grammar is None:
            return library_sampler(**options)
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
        if grammar is None:
            return chain
        return ConstrainedChain(chain, GrammarCheck(vocab, grammar._grammar), candidates)

    llama._init_sampler = init_sampler  # type: ignore[method-assign,assignment]
    return True


def logits_view(ctx: Any, idx: int, n_vocab: int) -> np.ndarray:
    pointer = llama_cpp.llama_get_logits_ith(ctx.ctx, idx)
    return np.ctypeslib.as_array(
        ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), shape=(n_vocab,)
    )


def _argmax(logits: np.ndarray, allowed: np.ndarray | None) -> int:
    if allowed is None:
        return int(logits.argmax())
    return int(np.where(allowed, logits, -np.inf).argmax())


class Candidates:
    """A llama.cpp candidate array over the whole vocabulary, refilled from logits at each use
    (samplers reorder and shorten it in place)."""

    def __init__(self, n_vocab: int) -> None:
        self._data = (llama_cpp.llama_token_data * n_vocab)()
        self.rows = np.ctypeslib.as_array(self._data)
        self._ids = np.arange(n_vocab, dtype=self.rows["id"].dtype)
        self.array = llama_cpp.llama_token_data_array(
            data=ctypes.cast(self._data, llama_cpp.llama_token_data_p),
            size=n_vocab,
            selected=-1,
            sorted=False,
        )
        self.pointer = ctypes.pointer(self.array)
        self._n_vocab = n_vocab

    def fill(self, logits: np.ndarray) -> None:
        self.rows["id"] = self._ids
        self.rows["logit"] = logits
        self.rows["p"] = 0.0
        self.array.size = self._n_vocab
        self.array.selected = -1
        self.array.sorted = False

    def selected(self) -> int:
        return int(self._data[self.array.selected].id)

    def allowed(self) -> np.ndarray:
        """After a grammar ran over a fresh fill: which tokens it left possible (by id)."""
        return np.asarray(self.rows["logit"] != -np.inf)


class GrammarCheck:
    """One request's llama.cpp grammar: asks whether a token may come next, or which may."""

    def __init__(self, vocab: Any, grammar: str) -> None:
        self._sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        if not self._sampler:
            raise ValueError("llama.cpp could not parse the grammar")
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_array = llama_cpp.llama_token_data_array(
            data=ctypes.cast(self._one, llama_cpp.llama_token_data_p),
            size=1,
            selected=-1,
            sorted=False,
        )
        self._one_pointer = ctypes.pointer(self._one_array)

    def allows(self, token: int) -> bool:
        self._one[0].id = llama_cpp.llama_token(token)
        self._one[0].logit = 0.0
        self._one_array.size = 1
        self._one_array.selected = -1
        llama_cpp.llama_sampler_apply(self._sampler, self._one_pointer)
        return bool(self._one[0].logit != -np.inf)

    def restrict(self, candidates: Candidates) -> None:
        llama_cpp.llama_sampler_apply(self._sampler, candidates.pointer)

    def accept(self, token: int) -> None:
        llama_cpp.llama_sampler_accept(self._sampler, token)

    def __del__(self) -> None:
        sampler, self._sampler = getattr(self, "_sampler", None), None
        if sampler:
            llama_cpp.llama_sampler_free(sampler)


#: How many of the likeliest tokens a constrained greedy pick checks one by one before it runs
#: the grammar over the whole vocabulary.
_CHECKED_FIRST = 32


class ConstrainedGreedy:
    """The greedy pick, kept to a grammar (see the module notes)."""

    def __init__(self, greedy: GreedySampler, grammar: GrammarCheck, candidates: Candidates):
        self._greedy = greedy
        self._grammar = grammar
        self._candidates = candidates

    def sample(self, ctx: Any, idx: int = -1) -> int:
        logits = self._greedy.logits(ctx, idx)
        token = self._next_allowed(logits)
        if token is None:
            self._candidates.fill(logits)
            self._grammar.restrict(self._candidates)
            token = self._greedy.pick(logits, self._candidates.allowed())
        self._greedy.accept(token)
        self._grammar.accept(token)
        return token

    def _next_allowed(self, logits: np.ndarray) -> int | None:
        """The best token the grammar allows among the few likeliest, checked one at a time;
        None when it must look further (the whole vocabulary then)."""
        token = self._greedy.pick(logits)
        if self._grammar.allows(token):
            return token
        ranked, values = self._greedy.ranked(logits, _CHECKED_FIRST)
        for candidate, value in zip(ranked.tolist(), values.tolist(), strict=True):
            if candidate == token or not self._grammar.allows(candidate):
                continue
            # Exact only above the cut: a token tied with the last one checked may lie outside
            # the few (and a lower id wins a tie).
            return candidate if value > values[-1] else None
        return None


class ConstrainedChain:
    """A sampled pick from llama.cpp's chain, kept to a grammar (see the module notes)."""

    def __init__(self, chain: Any, grammar: GrammarCheck, candidates: Candidates) -> None:
        self._chain = chain
        self._grammar = grammar
        self._candidates = candidates
        self._n_vocab = len(candidates.rows)

    def sample(self, ctx: Any, idx: int = -1) -> int:
        logits = logits_view(ctx, idx, self._n_vocab)
        candidates = self._candidates
        candidates.fill(logits)
        llama_cpp.llama_sampler_apply(self._chain.sampler, candidates.pointer)
        token = candidates.selected()
        if not self._grammar.allows(token):
            candidates.fill(logits)
            self._grammar.restrict(candidates)
            llama_cpp.llama_sampler_apply(self._chain.sampler, candidates.pointer)
            token = candidates.selected()
        llama_cpp.llama_sampler_accept(self._chain.sampler, token)
        self._grammar.accept(token)
        return token
