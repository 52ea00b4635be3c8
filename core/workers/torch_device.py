"""Which torch device an engine setting of ``auto`` means, for plugins that run torch models.

Here, under core/workers, because isolated workers (tts_qwen3's) import only this package of the
daemon's code: it needs nothing but the standard library. torch is imported only when asked.
"""

from __future__ import annotations


def torch_device(setting: str) -> str:
    """``setting`` as it is unless ``auto``: then CUDA, else Apple's MPS, else the CPU."""
    if setting != "auto":
        return setting
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"
