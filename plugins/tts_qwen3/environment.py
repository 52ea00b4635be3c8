"""The worker environment: ``voxgate plugins install tts_qwen3``.

qwen-tts 0.1.1 pins transformers 4.57.3, which cannot share an environment with the daemon's
transformers 5, so the engine runs in a worker process with its own virtual environment. torch
is installed first and pinned: an unpinned one pulls the newest (multi-GB) CUDA build.
"""

from __future__ import annotations

from pathlib import Path

from core.workers.environment import WorkerEnvironment
from core.workers.install import drop_native_libs_if_broken

NAME = "tts_qwen3"
TORCH = "torch==2.13.0"
QWEN_TTS = "qwen-tts==0.1.1"


def repair_torchaudio(python: Path) -> None:
    """torchaudio from PyPI may be built for another torch than the pinned one; its native
    libraries then fail to load. qwen_tts needs only its pure-Python parts (kaldi fbank)."""
    drop_native_libs_if_broken(python, "torchaudio")


ENVIRONMENT = WorkerEnvironment(
    name=NAME,
    first=(TORCH,),
    requirements=(QWEN_TTS,),
    imports=("torch", "torchaudio", "qwen_tts"),
    post_install=(repair_torchaudio,),
    description="Qwen3-TTS worker: torch 2.13 (CPU unless another index is given) + qwen-tts",
)
