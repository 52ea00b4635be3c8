"""The loaded VibeVoice model and one generation call: imported only when the engine loads.

A prompt is a short conversation: each turn is a speaker's text, and a speaker's first turn
carries that speaker's reference clip (the voice to clone). The processor's chat template turns
it into the model's prompt; the model then emits audio placeholders, each denoised by the
diffusion head into one 7.5 Hz latent frame (3,200 samples at 24 kHz) until it emits
end-of-audio. Generation checks a cancel flag between frames, so a client that leaves frees the
model within one frame.
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers
from transformers import (
    StoppingCriteria,
    StoppingCriteriaList,
    VibeVoiceForConditionalGeneration,
    VibeVoiceProcessor,
)
from transformers.utils import logging as _hf_logging

from core.audio.chunk import FloatArray
from core.workers.torch_device import torch_device

hf_logging: Any = _hf_logging  # its progress-bar switches are untyped


@dataclass(frozen=True)
class PromptTurn:
    #: The speaker's number in the prompt (``Speaker 0``, ``Speaker 1`` ...).
    role: int
    text: str
    #: The speaker's prepared clip at the model's rate, on the speaker's first turn only.
    reference: FloatArray | None = None


@dataclass(frozen=True)
class GenerationOptions:
    max_new_tokens: int
    #: None: the model's own (its generation config), else 1.0.
    cfg_scale: float | None = None
    #: None: the model's own, else 10.
    diffusion_steps: int | None = None
    seed: int | None = None
    min_new_tokens: int | None = None
    suppress_tokens: tuple[int, ...] = ()


class _StopWhenSet(StoppingCriteria):
    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> Any:
        stop = self.event.is_set()
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


def resolve_dtype(setting: str, device: str) -> torch.dtype:
    if setting != "auto":
        return getattr(torch, setting)  # type: ignore[no-any-return]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    # Half precision is slow on CPUs and not every op of the model has it on MPS.
    return torch.float32


# Compared by identity and shown without the model's own (very long) repr.
@dataclass(eq=False, repr=False)
class VibeVoiceRuntime:
    model: Any
    processor: Any
    _: KW_ONLY
    folder: Path
    device: str
    dtype: torch.dtype
    load_seconds: float
    sample_rate: int = field(init=False)
    # One generation at a time: the seed is process-wide and the model keeps caches.
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.sample_rate = int(self.processor.feature_extractor.sampling_rate)

    @classmethod
    def load(
        cls,
        folder: Path,
        *,
        device: str = "auto",
        dtype: str = "auto",
        attention: str = "auto",
        threads: int | None = None,
    ) -> VibeVoiceRuntime:
        started = time.perf_counter()
        if threads is not None:
            torch.set_num_threads(threads)  # process-wide: torch has one CPU pool
        chosen_device = torch_device(device)
        chosen_dtype = resolve_dtype(dtype, chosen_device)
        extra: dict[str, Any] = {}
        if attention != "auto":
            extra["attn_implementation"] = attention
        # Progress bars would land in the daemon's log as raw terminal output.
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            processor = VibeVoiceProcessor.from_pretrained(str(folder))
            # Loaded on the CPU, then moved: a device_map would need accelerate.
            model: Any = VibeVoiceForConditionalGeneration.from_pretrained(
                str(folder), dtype=chosen_dtype, **extra
            )
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        model.to(chosen_device)
        model.eval()
        return cls(
            model,
            processor,
            folder=folder,
            device=chosen_device,
            dtype=chosen_dtype,
            load_seconds=time.perf_counter() - started,
        )

    def facts(self) -> dict[str, Any]:
        config = self.model.generation_config
        return {
            "folder": str(self.folder),
            "device": self.device,
            "dtype": str(self.dtype).removeprefix("torch."),
            "sample_rate": self.sample_rate,
            "load_seconds": round(self.load_seconds, 3),
            "transformers": transformers.__version__,
            "default_cfg_scale": getattr(config, "guidance_scale", None),
            "default_diffusion_steps": getattr(config, "num_diffusion_steps", None),
        }

    def generate(
        self, turns: list[PromptTurn], options: GenerationOptions, cancel: threading.Event
    ) -> FloatArray:
        """Speech for ``turns`` as float32 samples at :attr:`sample_rate` (empty if none)."""
        conversation = []
        for turn in turns:
            content: list[dict[str, Any]] = [{"type": "text", "text": turn.text}]
            if turn.reference is not None:
                content.append({"type": "audio", "audio": turn.reference})
            conversation.append({"role": str(turn.role), "content": content})
        kwargs: dict[str, Any] = {"max_new_tokens": options.max_new_tokens}
        if options.cfg_scale is not None:
            kwargs["guidance_scale"] = options.cfg_scale
        if options.diffusion_steps is not None:
            kwargs["num_diffusion_steps"] = options.diffusion_steps
        if options.min_new_tokens is not None:
            kwargs["min_new_tokens"] = options.min_new_tokens
        if options.suppress_tokens:
            kwargs["suppress_tokens"] = list(options.suppress_tokens)
        with self._lock, torch.inference_mode():
            inputs = self.processor.apply_chat_template(
                conversation,
                tokenize=True,
                return_dict=True,
                return_tensors="pt",
            ).to(self.model.device, self.dtype)
            if options.seed is not None:
                torch.manual_seed(options.seed)
            audio = self.model.generate(
                **inputs, stopping_criteria=StoppingCriteriaList([_StopWhenSet(cancel)]), **kwargs
            )
        first = audio[0] if audio else None
        if first is None:
            return np.zeros(0, dtype=np.float32)
        samples: FloatArray = first.detach().to("cpu", torch.float32).numpy().reshape(-1)
        return np.clip(samples, -1.0, 1.0).astype(np.float32, copy=False)

    def warm_up(self) -> float:
        """One short generation, so the first request does not pay for lazy setup (the noise
        scheduler's import, kernel selection); returns its seconds."""
        started = time.perf_counter()
        self.generate(
            [PromptTurn(0, "Hello.")], GenerationOptions(max_new_tokens=2), threading.Event()
        )
        return time.perf_counter() - started

    def close(self) -> None:
        with self._lock:
            device = self.device
            del self.model
            del self.processor
            gc.collect()
            if device.startswith("cuda") and torch.cuda.is_available():
                torch.cuda.empty_cache()
            elif device == "mps":
                torch.mps.empty_cache()
