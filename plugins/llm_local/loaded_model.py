"""A loaded llama.cpp model and the token loop that turns a chat into streamed text.

Everything here blocks and runs in worker threads. A llama.cpp context is not re-entrant: the
engine makes sure only one thread at a time calls :meth:`LoadedModel.reply` or ``close``.
Imported only when an engine loads (it imports llama_cpp).
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import io
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import llama_cpp
import structlog

from core.engines.errors import EngineUnavailable, InvalidRequest
from core.engines.llm import ChatDelta, ChatMessage, Usage
from plugins.llm_local import samplers
from plugins.llm_local.chat_template import ChatTemplate, chat_template
from plugins.llm_local.compute_pool import ComputePool
from plugins.llm_local.sampling import Sampling
from plugins.llm_local.settings import LlamaCppSettings
from plugins.llm_local.stops import StopMatcher

log = structlog.get_logger(__name__)


class LoadedModel:
    def __init__(
        self,
        llama: llama_cpp.Llama,
        template: ChatTemplate,
        path: Path,
        n_ctx: int,
        pool: ComputePool | None = None,
    ) -> None:
        self.llama = llama
        self.pool = pool
        # llama.cpp may round the context up, but llama-cpp-python sizes its token buffers by
        # the n_ctx it was asked for: the smaller of the two is the real limit.
        self.n_ctx = min(n_ctx, int(llama.n_ctx()))
        self.template = template
        self.path = path
        self._vocab = llama_cpp.llama_model_get_vocab(llama.model)
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
            samplers.install(llama)
            # An OpenMP build keeps its own workers per computing thread (see the engine notes).
            if settings.thread_pool and not built_with_openmp():
                pool = ComputePool.attach(llama, n_threads, settings.spin_wait)
        except BaseException:
            llama.close()
            if pool is not None:
                pool.free()
            raise
        return cls(llama, template, path, settings.n_ctx, pool)

    def close(self) -> None:
        self._closed = True
        self.llama.close()
        if self.pool is not None:  # after the context that points to it
            self.pool.free()

    # -- one reply -------------------------------------------------------------------------------

    def reply(
        self,
        messages: Sequence[ChatMessage],
        sampling: Sampling,
        cancelled: threading.Event,
        *,
        engine: str,
    ) -> Iterator[ChatDelta]:
        """Stream the reply: text deltas, then a last delta with the finish reason and usage.

        Stops early, without a last delta, when ``cancelled`` is set (the client went away).
        """
        if self._closed:
            raise EngineUnavailable(f"engine {engine!r} was closed")
        prompt = self.template.render(messages)
        tokens = self.llama.tokenize(
            prompt.text.encode("utf-8"), add_bos=prompt.add_bos, special=True
        )
        room = self.n_ctx - len(tokens)
        if room <= 0:
            raise InvalidRequest(
                f"the prompt is {len(tokens)} tokens but the model's context (n_ctx) holds "
                f"{self.n_ctx}: shorten the messages or raise n_ctx",
                param="messages",
            )
        limit = min(sampling.max_tokens, room)
        stops = StopMatcher((*sampling.stop, *prompt.stops))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        finish: Literal["stop", "length"] = "length"
        produced = 0
        held = ""

        self.llama.set_seed(sampling.seed)
        sampled = self.llama.generate(tokens, **_generate_options(sampling))
        try:
            for token in sampled:
                if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    finish = "stop"
                    break
                produced += 1
                text = stops.feed(decoder.decode(self._piece(token)))
                if stops.stopped:
                    finish, held = "stop", text
                    break
                if text:
                    yield ChatDelta(text=text)
                if cancelled.is_set():
                    _log_cancelled(engine, produced)
                    return
                if produced >= limit:
                    break
        except GeneratorExit:  # closed by the thread bridge: the client went away
            _log_cancelled(engine, produced)
            raise
        finally:
            sampled.close()
        if not stops.stopped:  # bytes of an unfinished character, and text held for a stop
            held = stops.feed(decoder.decode(b"", final=True))
            if stops.stopped:
                finish = "stop"
            else:
                held += stops.flush()
        yield ChatDelta(text=held, finish_reason=finish, usage=Usage(len(tokens), produced))

    def _piece(self, token: int) -> bytes:
        """The bytes of one token (control tokens give none)."""
        buffer = self._piece_buffer
        size = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
        if size < 0:  # a token longer than the buffer: llama.cpp says how much it needs
            buffer = ctypes.create_string_buffer(-size)
            size = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, -size, 0, False)
        return buffer.raw[:size]


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


def _log_cancelled(engine: str, produced: int) -> None:
    log.info("llm.generation_cancelled", engine=engine, completion_tokens=produced)


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
