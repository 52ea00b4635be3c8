"""The device ``auto`` means for torch engines (tts_qwen3's worker, tts_vibevoice).

No GPU is available where the suite runs, so torch's device queries are patched: this checks
the choice made on CUDA and MPS machines, not the kernels.
"""

from __future__ import annotations

import pytest
import torch

from core.workers.torch_device import torch_device


def test_auto_takes_cuda_then_mps_then_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert torch_device("auto") == "cpu"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert torch_device("auto") == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert torch_device("auto") == "cuda"
    assert torch_device("cuda:1") == "cuda:1"  # an explicit device is kept
    assert torch_device("cpu") == "cpu"
