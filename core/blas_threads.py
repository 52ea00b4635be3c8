"""numpy's BLAS on one thread in the daemon.

The engines bring their own thread pools (CTranslate2, onnxruntime, llama.cpp) sized to the
CPUs. numpy's OpenBLAS keeps a pool of its own, and after each matrix product its idle threads
spin for a while on the same cores. The small products the engines' Python side does (Whisper's
mel filter bank, for one) then slow the compute that follows: Whisper tiny.en encoded a 10 s
window in 128 ms right after its feature extraction, against 72 ms with BLAS on one thread.

A user who sets ``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``) keeps their own choice.
"""

from __future__ import annotations

import os

import structlog

log = structlog.get_logger(__name__)

_USER_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> bool:
    """Limit the BLAS libraries loaded in this process to one thread; True if it did."""
    if any(os.environ.get(name) for name in _USER_SETTINGS):
        return False
    import numpy  # noqa: F401 (its BLAS must be loaded to be limited)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    log.debug("blas.one_thread")
    return True
