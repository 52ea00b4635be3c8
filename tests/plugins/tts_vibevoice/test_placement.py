"""Dtype choices of the VibeVoice engine (its device choice is core/workers/torch_device.py's).

No GPU is available where the suite runs, so torch's device queries are patched: this checks
the choices made on CUDA and MPS machines, not the kernels.
"""

from __future__ import annotations

import pytest
import torch

from plugins.tts_vibevoice.runtime import resolve_dtype


def test_dtype_by_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_dtype("auto", "cuda") is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_dtype("auto", "cuda:1") is torch.float16
    assert resolve_dtype("auto", "mps") is torch.float32
    assert resolve_dtype("auto", "cpu") is torch.float32
    assert resolve_dtype("bfloat16", "cpu") is torch.bfloat16
