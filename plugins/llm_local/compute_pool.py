"""llama.cpp's compute threads, kept alive for as long as a model is loaded.

Without a thread pool attached, llama.cpp built without OpenMP (as voxgate's Makefile builds it)
starts its worker threads afresh for every decode call, that is once per generated token, and
the kernel places each new thread wherever a core looks free at that instant. In the daemon the
event loop wakes once per token to send it; when it happens to be running at that instant, the
new worker can land on the generation thread's own core, and the two then spin against each
other at llama.cpp's barriers until the kernel moves one of them. On two cores that showed as
30-50 ms stalls and replies up to twice as slow as the same model called directly. Workers that
live as long as the model stay on their cores and only wake up for each token.

llama-cpp-python has no binding for the pool, so it is made here through ctypes from the same
libraries llama-cpp-python loaded. The parameter struct's layout is checked against the
library's own defaults before use; anything unexpected (another layout, a build without the
functions, an OpenMP build) leaves llama.cpp's usual per-call threads in place.
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

log = structlog.get_logger(__name__)

#: ``GGML_MAX_N_THREADS``: the size of the CPU mask at the head of the parameter struct.
_MAX_THREADS = 512
#: What ``ggml_threadpool_params_init`` writes into ``poll``: checked to recognise the layout.
_DEFAULT_POLL = 50


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
        functions = _pool_functions()
        if functions is None:
            return None
        params_init, pool_new, pool_free, attach = functions
        params = _PoolParams()
        params_init(ctypes.byref(params), n_threads)
        if params.n_threads != n_threads or params.poll != _DEFAULT_POLL or params.paused:
            log.warning("llm.compute_pool_skipped", reason="unexpected ggml_threadpool_params")
            return None
        params.poll = spin
        handle = pool_new(ctypes.byref(params))
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
    params_init.argtypes = [ctypes.POINTER(_PoolParams), ctypes.c_int]
    params_init.restype = None
    pool_new.argtypes = [ctypes.POINTER(_PoolParams)]
    pool_new.restype = ctypes.c_void_p
    pool_free.argtypes = [ctypes.c_void_p]
    pool_free.restype = None
    attach.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    attach.restype = None
    return params_init, pool_new, pool_free, attach
