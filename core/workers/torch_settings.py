"""The settings every engine that loads a transformers model in torch takes: where it runs,
in what precision, with which attention kernels and how many CPU threads.

Read by the daemon only (isolated workers receive the values, never this model).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.engines.base import EngineSettings


class TorchSettings(EngineSettings):
    #: ``auto`` (cuda, then mps, then cpu), or a torch device such as ``cuda:1``.
    device: str = "auto"
    #: ``auto``: bfloat16 on CUDA (float16 where bfloat16 is missing), float32 on the CPU; each
    #: engine says what it picks on MPS.
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    #: ``auto``: the engine's choice (the library's default unless it says otherwise).
    attention: Literal["auto", "sdpa", "eager", "flash_attention_2"] = "auto"
    #: torch CPU threads for the process that runs the model (default: torch's choice).
    threads: int | None = Field(None, ge=1, le=256)
