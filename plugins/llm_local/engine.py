"""The ``llama_cpp`` LLM engine: chat with a GGUF model through llama.cpp, tokens streamed.

A llama.cpp context serves one generation at a time, so the engine asks the runtime for one
concurrency slot (others wait in the runtime's queue) and also guards the model with its own lock,
in case a policy raises ``max_concurrency``. Tokens are produced in a worker thread and handed to
the event loop as they appear; when the consumer stops (client disconnect), the thread stops after
the current token and the model is free for the next request.

Each generation runs in a fresh thread on purpose. llama.cpp (built with OpenMP, the default)
gives every thread that computes its own team of OpenMP workers, alive as long as that thread.
When a process holds more OpenMP workers than CPU cores, which a second team does on a small
machine, libgomp stops spinning at its barriers and decoding gets about three times slower. A
short-lived thread takes its team with it, so an idle engine leaves no workers behind. Other
users of the same libgomp in the process (torch, when sentence-transformers runs beside) count
too and cannot be avoided from here: llama-cpp-python built with ``-DGGML_OPENMP=OFF`` (as the
Makefile builds it) uses llama.cpp's own threads and is immune (``info()`` reports which build is
loaded). With that build the engine keeps one pool of those threads per loaded model
(compute_pool.py), so a token does not start threads of its own.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import structlog

from core.engines.base import EngineContext, EngineSettings
from core.engines.errors import EngineUnavailable, InvalidRequest
from core.engines.llm import ChatDelta, ChatMessage, ChatRequest, LLMEngine
from core.engines.threaded import ThreadedIterator
from plugins.llm_local.cpu import physical_cores
from plugins.llm_local.model_file import resolve_model
from plugins.llm_local.sampling_params import Sampling, sampling_for
from plugins.llm_local.settings import LlamaCppSettings

if TYPE_CHECKING:
    from plugins.llm_local.loaded_model import LoadedModel

log = structlog.get_logger(__name__)

#: How often a request waiting for the model checks whether its client is still there.
_WAIT_POLL_SECONDS = 0.05


class LlamaCppEngine(LLMEngine):
    Settings: ClassVar[type[EngineSettings]] = LlamaCppSettings
    description: ClassVar[str] = (
        "llama.cpp: any GGUF chat model, offline (default SmolLM2-135M-Instruct)"
    )
    # llama.cpp contexts are not re-entrant: one generation at a time per loaded model.
    default_max_concurrency: ClassVar[int] = 1
    # Calls and JSON replies are held to grammars built from the schemas (grammars.py).
    supports_tools: ClassVar[bool] = True
    supports_response_format: ClassVar[bool] = True
    supports_logprobs: ClassVar[bool] = True

    settings: LlamaCppSettings

    def __init__(self, settings: EngineSettings, context: EngineContext) -> None:
        super().__init__(settings, context)
        self._model: LoadedModel | None = None
        self._turn = threading.Lock()

    @property
    def n_threads(self) -> int:
        return self.settings.n_threads or physical_cores()

    # -- lifecycle -----------------------------------------------------------------------------

    async def load(self) -> None:
        started = time.perf_counter()
        model = await asyncio.to_thread(self._load)
        self._model = model
        try:
            await self._warm_up()
        except BaseException:
            await self.close()
            raise
        log.info(
            "llm.model_loaded",
            engine=self.name,
            model=str(model.path),
            n_ctx=model.n_ctx,
            n_threads=self.n_threads,
            flash_attn=self.settings.flash_attn,
            chat_template=model.template.source,
            openmp=model.openmp,
            thread_pool=model.pool is not None,
            fast_sampling=model.fast_sampling,
            seconds=round(time.perf_counter() - started, 3),
        )

    def _load(self) -> LoadedModel:
        try:
            from plugins.llm_local.loaded_model import LoadedModel
        except ImportError as exc:
            raise EngineUnavailable(
                f"llama-cpp-python is not installed ({exc}); "
                "install it with: pip install 'voxgate[llm_local]'"
            ) from exc
        path = resolve_model(self.settings.model, self.context.models_dir)
        return LoadedModel.load(path, self.settings, self.n_threads)

    async def _warm_up(self) -> None:
        """One token through the request path, so the first request does not pay for reading the
        memory-mapped weights from disk. Like every generation it runs in its own short-lived
        thread, never in the long-lived load thread (see the module notes on OpenMP)."""
        request = ChatRequest(messages=(ChatMessage("user", "Hello"),), temperature=0, max_tokens=1)
        try:
            async for _ in self.chat(request):
                pass
        except InvalidRequest as exc:  # a template that wants more than one user turn
            log.info("llm.warm_up_skipped", engine=self.name, reason=exc.message)

    async def close(self) -> None:
        model, self._model = self._model, None
        if model is not None:
            await asyncio.to_thread(self._close, model)

    def _close(self, model: LoadedModel) -> None:
        with self._turn:  # never free the context under a running generation
            model.close()

    def info(self) -> dict[str, Any]:
        facts: dict[str, Any] = {
            "model": self.settings.model,
            "n_ctx": self.settings.n_ctx,
            "n_threads": self.n_threads,
            "n_gpu_layers": self.settings.n_gpu_layers,
            "flash_attn": self.settings.flash_attn,
        }
        if self._model is not None:
            facts.update(
                path=str(self._model.path),
                chat_template=self._model.template.source,
                openmp=self._model.openmp,
                thread_pool=self._model.pool is not None,
                fast_sampling=self._model.fast_sampling,
            )
        return facts

    # -- chat ----------------------------------------------------------------------------------

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        model = self._model
        if model is None:
            raise EngineUnavailable(f"engine {self.name!r} is not loaded")
        if not request.messages:
            raise InvalidRequest("messages must not be empty", param="messages")
        sampling = sampling_for(self.settings, request)
        cancelled = threading.Event()
        deltas = ThreadedIterator(
            lambda: self._take_turn(model, request, sampling, cancelled),
            name=f"llama-cpp-{self.name}",
        )
        try:
            async for delta in deltas:
                yield delta
        finally:
            cancelled.set()
            await deltas.aclose()

    def _take_turn(
        self,
        model: LoadedModel,
        request: ChatRequest,
        sampling: Sampling,
        cancelled: threading.Event,
    ) -> Iterator[ChatDelta]:
        """Runs in the worker thread: wait for the model (giving up if the client leaves)."""
        while not self._turn.acquire(timeout=_WAIT_POLL_SECONDS):
            if cancelled.is_set():
                return
        try:
            yield from model.reply(request, sampling, cancelled, engine=self.name)
        finally:
            self._turn.release()
