"""Audio while Qwen3-TTS is still generating: codec frames decoded in small windows.

Runs inside the worker environment (torch, qwen-tts 0.1.1). qwen-tts returns a piece's audio only
when the whole piece is generated. Its talker emits one codec frame (16 codes, 1920 samples at
24 kHz) per step, and the 12 Hz codec decoder is causal: samples of frame t depend only on frames
up to t. So a forward hook on the talker collects each frame as it is made, and every few frames
the decoder turns the new ones, plus some already-sent frames as left context, into audio; only
the new samples are sent. With enough context (the decoder looks back at most ~72 frames) the
joined chunks equal the one-shot decode.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class StreamPlan:
    #: Frames in the first chunk (few: the first audio comes sooner).
    first: int
    #: The most frames in one chunk. Chunks double from ``first`` up to this: once audio is
    #: playing, bigger chunks cost less re-decoded context per second of speech.
    every: int
    #: Already-sent frames decoded again in front of each chunk.
    context: int

    @classmethod
    def from_params(cls, params: dict[str, Any] | None) -> StreamPlan | None:
        if not params or int(params.get("every", 0)) <= 0:
            return None
        every = int(params["every"])
        first = int(params.get("first") or every)
        return cls(first=max(1, first), every=every, context=max(0, int(params.get("context", 0))))


_DONE = object()


class _Cancelled(Exception):
    """Raised inside the model's forward to end a generation nobody is waiting for."""


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


@contextmanager
def _no_final_decode(speech_tokenizer: Any) -> Iterator[None]:
    """The library decodes the whole piece once generation ends; the chunks already carry that
    audio, so its decode is replaced by silence of the right length for the duration."""
    rate = int(speech_tokenizer.get_output_sample_rate())
    per_frame = int(speech_tokenizer.get_decode_upsample_rate())

    def silence(encoded: list[dict[str, Any]]) -> tuple[list[np.ndarray], int]:
        wavs = [np.zeros(int(e["audio_codes"].shape[0]) * per_frame, np.float32) for e in encoded]
        return wavs, rate

    speech_tokenizer.decode = silence
    try:
        yield
    finally:
        del speech_tokenizer.decode  # the class's method again


class FrameStreamer:
    """Decodes one model's frames as they are generated; one generation at a time."""

    def __init__(self, model: Any) -> None:
        inner = model.model  # Qwen3TTSForConditionalGeneration
        self._talker = inner.talker
        self._tokenizer = inner.speech_tokenizer
        self._decoder = inner.speech_tokenizer.model.decoder
        self._device = next(self._decoder.parameters()).device
        self._eos = int(inner.config.talker_config.codec_eos_token_id)
        self.samples_per_frame = int(self._tokenizer.get_decode_upsample_rate())
        self.sample_rate = int(self._tokenizer.get_output_sample_rate())

    def stream(
        self,
        generate: Callable[[], Any],
        plan: StreamPlan,
        *,
        first: bool,
        reference_codes: Any = None,
    ) -> Generator[np.ndarray, None, None]:
        """Run ``generate`` (a qwen-tts call for one piece) in a thread and yield float32 audio
        chunks as its frames arrive. ``reference_codes`` (voice cloning with a transcript) are
        the frames the model continues from: they serve as left context, never as output."""
        frames: queue.Queue[Any] = queue.Queue()
        eos = self._eos
        cancelled = threading.Event()

        def collect(_module: Any, _args: Any, output: Any) -> None:
            if cancelled.is_set():
                raise _Cancelled
            hidden = getattr(output, "hidden_states", None)
            codes = hidden[1] if isinstance(hidden, tuple) and len(hidden) > 1 else None
            if codes is not None and int(codes[0, 0]) != eos:  # None on the prompt's own step
                frames.put(codes[0].detach().to("cpu", copy=True))

        def run() -> None:
            try:
                with _no_final_decode(self._tokenizer):
                    generate()
            except BaseException as exc:  # handed to the consumer, raised there
                frames.put(_Failed(exc))
            else:
                frames.put(_DONE)

        context: list[Any] = []
        if reference_codes is not None and plan.context:
            context = list(reference_codes.reshape(-1, reference_codes.shape[-1])[-plan.context :])
        pending: list[Any] = []
        size = min(plan.first, plan.every) if first else plan.every
        handle = self._talker.register_forward_hook(collect)
        worker = threading.Thread(target=run, name="qwen3-generate", daemon=True)
        worker.start()
        try:
            while True:
                item = frames.get()
                if item is _DONE:
                    break
                if isinstance(item, _Failed):
                    raise item.error
                pending.append(item)
                if len(pending) >= size:
                    yield self._decode(context, pending)
                    context = (context + pending)[-plan.context :] if plan.context else []
                    pending = []
                    size = min(size * 2, plan.every)
            if pending:
                yield self._decode(context, pending)
        finally:
            cancelled.set()  # a consumer that stopped early ends the generation at its next step
            worker.join()  # the model serves one generation at a time
            handle.remove()

    def _decode(self, context: list[Any], new: list[Any]) -> np.ndarray:
        import torch

        window = torch.stack([*context, *new]).T.unsqueeze(0).clamp(min=0)  # [1, 16, frames]
        with torch.inference_mode():
            wav = self._decoder(window.to(self._device))[0, 0]
        audio = wav[len(context) * self.samples_per_frame :].float().cpu().numpy()
        return np.ascontiguousarray(audio, dtype=np.float32)
