"""Which llama-cpp-python releases voxgate's patches over its internals were checked against.

Two speed-ups reach below llama-cpp-python's public API: the compute pool (a ctypes copy of a
ggml struct, compute_pool.py) and the token picks (a replaced private ``Llama._init_sampler``,
samplers.py). Both were verified on the releases listed here, the one pyproject.toml pins; on
any other release they stay off and llama-cpp-python's stock path runs, with a log event saying
why. Imported only when an engine loads (it imports llama_cpp).
"""

from __future__ import annotations

import llama_cpp
import structlog

log = structlog.get_logger(__name__)

#: llama-cpp-python releases the patches were verified on (keep in step with pyproject.toml).
VERIFIED_VERSIONS = frozenset({"0.3.36"})


def verified(patch: str) -> bool:
    """Whether the loaded llama-cpp-python is one ``patch`` was verified on; logs when not."""
    version = str(getattr(llama_cpp, "__version__", "unknown"))
    if version in VERIFIED_VERSIONS:
        return True
    log.warning(
        "llm.library_patch_skipped",
        patch=patch,
        reason="llama-cpp-python version not verified",
        version=version,
        verified=sorted(VERIFIED_VERSIONS),
    )
    return False
