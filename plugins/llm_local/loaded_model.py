"""A loaded llama.cpp model and the token loop that turns a chat into streamed text.

Everything here blocks and runs in worker threads. A llama.cpp context is not re-entrant: the
engine makes sure only one thread at a time calls :meth:`LoadedModel.reply` or ``close``.
Imported only when an engine loads (it imports llama_cpp).
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
import structlog
from llama_cpp.llama_grammar import LlamaGrammar

from core.engines.errors import EngineUnavailable, Unsupported
from core.engines.llm import ChatDelta, ChatRequest, TokenLogprob, TopLogprob
from plugins.llm_local import samplers
from plugins.llm_local.chat_template import ChatTemplate, chat_template
from plugins.llm_local.compute_pool import ComputePool
from plugins.llm_local.reply import Reply
from plugins.llm_local.sampling_params import Sampling
from plugins.llm_local.settings import LlamaCppSettings

log = structlog.get_logger(__name__)


class LoadedModel:
    def __init__(
        self,
        llama: llama_cpp.Llama,
        template: ChatTemplate,
        path: Path,
        n_ctx: int,
        pool: ComputePool | None = None,
        fast_sampling: bool = False,
    ) -> None:
        self.llama = llama
        self.pool = pool
        #: Whether voxgate's token picks replaced llama-cpp-python's (samplers.py).
        self.fast_sampling = fast_sampling
        # llama.cpp may round the context up, but llama-cpp-python sizes its token buffers by
        # the n_ctx it was asked for: the smaller of the two is the real limit.
        self.n_ctx = min(n_ctx, int(llama.n_ctx()))
        self.template = template
        self.path = path
        self._vocab = llama_cpp.llama_model_get_vocab(llama.model)
        self._n_vocab = int(llama.n_vocab())
        self._piece_buffer = ctypes.create_string_buffer(256)
        self._closed = False
        #: Whether this llama.cpp build computes with OpenMP (see the engine's notes on threads).
        self.openmp = built_with_openmp()

    @classmethod
    def load(cls, path: Path, settings: LlamaCppSettings, n_threads: int) -> LoadedModel:
        llama = _open_llama(path, settings, n_threads)
        pool = None
        try:
            template = chat_template(llama, settings.chat_format)
            fast_sampling = samplers.install(llama)
            # An OpenMP build keeps its own workers per computing thread (see the engine notes).
            if settings.thread_pool and not built_with_openmp():
                pool = ComputePool.attach(llama, n_threads, settings.spin_wait)
        except BaseException:
            llama.close()
            if pool is not None:
                pool.free()
            raise
        return cls(llama, template, path, settings.n_ctx, pool, fast_sampling)

    def close(self) -> None:
        self._closed = True
        self.llama.close()
        if self.pool is not None:  # after the context that points to it
            self.pool.free()

    # -- one reply -------------------------------------------------------------------------------

    def reply(
        self,
        request: ChatRequest,
        sampling: Sampling,
        cancelled: threading.Event,
        *,
        engine: str,
    ) -> Iterator[ChatDelta]:
        """Stream the reply: text (or call) deltas, then a last delta with the finish reason and
        usage. Stops early, without a last delta, when ``cancelled`` is set (the client left)."""
        if self._closed:
            raise EngineUnavailable(f"engine {engine!r} was closed")
        return Reply(self, request, sampling, cancelled, engine).run()

    # -- the pieces a reply is made of -------------------------------------------------------------

    def tokenize(self, text: str, add_bos: bool) -> list[int]:
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    def generate(
        self, tokens: list[int], sampling: Sampling, grammar: str | None = None
    ) -> Generator[int | None, None, None]:
        """The tokens the model picks after ``tokens``; ``None`` last when it ends its turn.

        llama.cpp keeps the longest prefix shared with the previous generation in its cache, so
        continuing a prompt costs only the new tokens.
        """
        options = _generate_options(sampling)
        if grammar is not None:
            options["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
        self.llama.set_seed(sampling.seed)
        sampled = self.llama.generate(tokens, **options)
        try:
            for token in sampled:
                if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    yield None
                    return
                yield token
        finally:
            sampled.close()

    def check_grammar(self, grammar: str) -> None:
        """Parse a grammar once, so a bad one is refused before any output (llama.cpp would
        otherwise fail inside the sampler)."""
        parsed = llama_cpp.llama_sampler_init_grammar(self._vocab, grammar.encode("utf-8"), b"root")
        if not parsed:
            raise Unsupported("llama.cpp could not parse the grammar built for this request")
        llama_cpp.llama_sampler_free(parsed)

    def piece(self, token: int) -> bytes:
        """The bytes of one token (control tokens give none)."""
        buffer = self._piece_buffer
        size = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
        if size < 0:  # a token longer than the buffer: llama.cpp says how much it needs
            buffer = ctypes.create_string_buffer(-size)
            size = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, -size, 0, False)
        return buffer.raw[:size]

    def logprob(self, token: int, top: int) -> TokenLogprob:
        """``token``'s log-probability under the model (before sampling settings), with the
        ``top`` likeliest tokens beside it. Valid right after the token was sampled, while the
        context still holds that step's logits."""
        pointer = llama_cpp.llama_get_logits_ith(self.llama.ctx, -1)
        logits = np.ctypeslib.as_array(
            ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), shape=(self._n_vocab,)
        ).astype(np.float64)
        peak = logits.max()
        logprobs = logits - (peak + np.log(np.exp(logits - peak).sum()))
        best: list[TopLogprob] = []
        if top:
            picked = np.argpartition(-logprobs, top)[:top]
            for candidate in picked[np.argsort(-logprobs[picked])]:
                best.append(self._top(int(candidate), float(logprobs[candidate])))
        chosen = self._top(token, float(logprobs[token]))
        return TokenLogprob(chosen.token, chosen.logprob, chosen.bytes, tuple(best))

    def _top(self, token: int, logprob: float) -> TopLogprob:
        raw = self.piece(token)
        return TopLogprob(raw.decode("utf-8", "replace"), logprob, tuple(raw))


def built_with_openmp() -> bool:
    """Whether this llama.cpp build computes with OpenMP (see the engine's notes on threads)."""
    return b"OPENMP = 1" in llama_cpp.llama_print_system_info()


# Quiet loading, as llama-cpp-python does it (verbose=False), points the whole process's stdout
# and stderr descriptors at /dev/null for the duration: the daemon's own log lines from other
# threads vanish meanwhile, and two loads at once can leave them pointing there for good. So the
# model loads verbosely with Python's sys.stderr captured instead (llama.cpp's messages go through
# it), one load at a time so the capture and its undoing cannot interleave.
_LOAD_LOCK = threading.Lock()
_LLAMA_CPP_LOGGER = "llama-cpp-python"


def _open_llama(path: Path, settings: LlamaCppSettings, n_threads: int) -> llama_cpp.Llama:
    output = io.StringIO()
    with _LOAD_LOCK, contextlib.redirect_stderr(output):
        try:
            llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=settings.n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_gpu_layers=settings.n_gpu_layers,
                flash_attn=settings.flash_attn,
                verbose=True,
            )
        except (ValueError, RuntimeError, OSError) as exc:  # llama.cpp could not read it
            said = [line for line in output.getvalue().splitlines() if line.strip()][-3:]
            detail = f" (llama.cpp: {' | '.join(said)})" if said else ""
            raise EngineUnavailable(f"llama.cpp could not load {path}: {exc}{detail}") from exc
        finally:
            # From now on only llama.cpp's errors reach stderr.
            logging.getLogger(_LLAMA_CPP_LOGGER).setLevel(logging.ERROR)
    llama.verbose = False  # no per-request diagnostics printed by llama-cpp-python
    return llama


def _generate_options(sampling: Sampling) -> dict[str, Any]:
    return {
        "temp": sampling.temperature,
        "top_p": sampling.top_p,
        "top_k": sampling.top_k,
        "min_p": sampling.min_p,
        "repeat_penalty": sampling.repeat_penalty,
        "frequency_penalty": sampling.frequency_penalty,
        "presence_penalty": sampling.presence_penalty,
    }
