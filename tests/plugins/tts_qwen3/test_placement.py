"""Dtype and attention choices of the Qwen3-TTS worker (its device choice is
core/workers/torch_device.py's).

No GPU is available where the suite runs, so torch's device queries are patched: this checks
the choices the worker makes on CUDA and MPS machines, not the kernels.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest
import torch

from plugins.tts_qwen3 import worker_side


@pytest.fixture
def cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)


@pytest.mark.usefixtures("cuda")
def test_dtype_is_bfloat16_on_cuda_and_float32_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    assert worker_side._dtype("auto", "cuda") is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert worker_side._dtype("auto", "cuda:0") is torch.float16  # pre-Ampere cards
    assert worker_side._dtype("auto", "mps") is torch.float16
    assert worker_side._dtype("auto", "cpu") is torch.float32
    assert worker_side._dtype("float16", "cpu") is torch.float16


@pytest.mark.usefixtures("cuda")
def test_flash_attention_only_on_cuda_in_half_precision_when_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        if name == "flash_attn":
            return ModuleType("flash_attn")
        return real_find_spec(name, *args)  # type: ignore[arg-type]

    assert worker_side._attention("auto", "cuda", torch.bfloat16) is None  # not installed here
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert worker_side._attention("auto", "cuda", torch.bfloat16) == "flash_attention_2"
    assert worker_side._attention("auto", "cuda", torch.float32) is None
    assert worker_side._attention("auto", "cpu", torch.bfloat16) is None
    assert worker_side._attention("sdpa", "cpu", torch.float32) == "sdpa"
