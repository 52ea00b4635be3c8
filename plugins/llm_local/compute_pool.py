"""llama.cpp's compute threads, kept alive for as long as a model is loaded.

Without a thread pool attached, llama.cpp built without OpenMP (as voxgate's Makefile builds it)
starts its worker threads afresh for every decode call, that is once per generated token, and
the kernel places each new thread wherever a core looks free at that instant. In the daemon the
event loop wakes once per token to send it; when it happens to be running at that instant, the
new worker can land on the generation thread's own core, and the two then spin against each
other at llama.cpp's barriers until the kernel moves one of them. Workers that live as long as the
model stay on their cores and only wake up for each token.

llama-cpp-python has no binding for the pool, so it is made here through ctypes from the same
libraries llama-cpp-python loaded, on the llama-cpp-python releases this was verified on
(library_check.py). ggml fills the parameter struct in a buffer with room to spare past the
struct as declared here, and the result is checked against ggml's documented defaults, and the
spare room for being untouched, before anything reads it; anything unexpected (another layout,
another release, a build without the functions, an OpenMP build) leaves llama.cpp's usual
per-call threads in place.
Imported only when an engine loads (it imports llama_cpp).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

import llama_cpp
import structlog
from llama_cpp._ctypes_extensions import load_shared_library

from plugins.llm_local import library_check

log = structlog.get_logger(__name__)

#: ``GGML_MAX_N_THREADS``: the size of the CPU mask at the head of the parameter struct.
_MAX_THREADS = 512
#: What ``ggml_threadpool_params_init`` writes into ``poll``: checked to recognise the layout.
_DEFAULT_POLL = 50
#: Bytes of room past the struct as declared here, for ggml to write into should its struct have
#: grown; they must come back untouched for the layout to be trusted.
_SPARE_BYTES = 4096
#: What the buffer is filled with before ggml writes its defaults.
_FILL = 0xA5


class _PoolParams(ctypes.Structure):
    # struct ggml_threadpool_params in ggml.h
    _fields_ = [
        ("cpumask", ctypes.c_bool * _MAX_THREADS),
        ("n_threads", ctypes.c_int),
        ("prio", ctypes.c_int),
        ("poll", ctypes.c_uint32),
        ("strict_cpu", ctypes.c_bool),
        ("paused", ctypes.c_bool),
    ]


def default_params(params_init: Any, n_threads: int) -> tuple[ctypes.Array[Any], str | None]:
    """ggml's default parameters for ``n_threads``, written by ``params_init`` into a buffer
    larger than :class:`_PoolParams`, and why that layout is not to be trusted (None when it
    matches: ggml's defaults at the expected offsets and nothing written past the struct)."""
    size = ctypes.sizeof(_PoolParams)
    buffer = (ctypes.c_ubyte * (size + _SPARE_BYTES))()
    ctypes.memset(buffer, _FILL, len(buffer))
    params_init(buffer, n_threads)
    params = _PoolParams.from_buffer(buffer)
    if any(byte != _FILL for byte in bytes(buffer)[size:]):
        return buffer, "ggml wrote past the declared struct"
    if (
        any(params.cpumask)
        or params.n_threads != n_threads
        or params.prio != 0
        or params.poll != _DEFAULT_POLL
        or params.strict_cpu
        or params.paused
    ):
        return buffer, "ggml's defaults are not where the declared struct has them"
    return buffer, None


class ComputePool:
    """One llama.cpp thread pool attached to one context; :meth:`free` after the context is
    freed (the context keeps a pointer to the pool)."""

    def __init__(self, handle: int, free: Any, n_threads: int, spin: int) -> None:
        self._handle: int | None = handle
        self._free = free
        self.n_threads = n_threads
        self.spin = spin

    @classmethod
    def attach(cls, llama: llama_cpp.Llama, n_threads: int, spin: int) -> ComputePool | None:
        """A pool of ``n_threads`` attached to ``llama``'s context for decoding and prompt
        processing, or None where this llama.cpp build cannot take one (it then keeps starting
        threads per call, which works, only slower in a busy process).

        ``spin`` is llama.cpp's polling level (0-100): how long idle workers spin waiting for
        the next token's work before they sleep.
        """
        if not library_check.verified("compute_pool"):
            return None
        functions = _pool_functions()
        if functions is None:
            return None
        params_init, pool_new, pool_free, attach = functions
        buffer, problem = default_params(params_init, n_threads)
        if problem is not None:
            log.warning("llm.compute_pool_skipped", reason=problem)
            return None
        _PoolParams.from_buffer(buffer).poll = spin
        handle = pool_new(buffer)
        if not handle:
            log.warning("llm.compute_pool_skipped", reason="ggml_threadpool_new failed")
            return None
        attach(llama.ctx, handle, handle)
        return cls(handle, pool_free, n_threads, spin)

    def free(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            self._free(handle)


def _pool_functions() -> tuple[Any, Any, Any, Any] | None:
    # llama-cpp-python loads its libraries from here (or from LLAMA_CPP_LIB_PATH); loading them
    # again returns the handles already in the process.
    base = Path(os.environ.get("LLAMA_CPP_LIB_PATH") or Path(llama_cpp.__file__).parent / "lib")
    try:
        ggml_base = load_shared_library("ggml-base", base)
        ggml_cpu = load_shared_library("ggml-cpu", base)
        llama = load_shared_library("llama", base)
        params_init = ggml_base.ggml_threadpool_params_init
        pool_new = ggml_cpu.ggml_threadpool_new
        pool_free = ggml_cpu.ggml_threadpool_free
        attach = llama.llama_attach_threadpool
    except (OSError, RuntimeError, FileNotFoundError, AttributeError) as exc:
        log.info("llm.compute_pool_skipped", reason=str(exc))
        return None
    # The parameters travel as a plain pointer to the oversized buffer (see default_params).
    params_init.argtypes = [ctypes.c_void_p, ctypes.c_int]
    params_init.restype = None
    pool_new.argtypes = [ctypes.c_void_p]
    pool_new.restype = ctypes.c_void_p
    pool_free.argtypes = [ctypes.c_void_p]
    pool_free.restype = None
    attach.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    attach.restype = None
    return params_init, pool_new, pool_free, attach
