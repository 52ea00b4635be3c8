"""The ``vibevoice`` engine's settings block (validated from the YAML)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from core.workers.torch_settings import TorchSettings
from plugins.tts_vibevoice.models import DEFAULT_MODEL


class VibeVoiceSettings(TorchSettings):
    """``dtype: auto`` is float32 on MPS (not every op of the model has half precision there);
    ``threads`` sets torch's one CPU pool for the whole daemon."""

    #: A model key (``vibevoice_1_5b``, ``vibevoice_7b``), its hub name, or a model folder.
    model: str = DEFAULT_MODEL
    #: Speaker reference files (``.wav``, ``.mp3``, ``.flac``; ``{lang}-{name}_{gender}.wav``).
    voices_dir: Path | None = None
    #: The voice a request without one speaks with (an id from the voices directory or the
    #: voice store); unset: the directory's first file, else the model's own voice.
    voice: str | None = None
    #: Classifier-free guidance: higher follows the text and voice more closely (unset: the
    #: model's own, else 1.0).
    cfg_scale: float | None = Field(None, ge=0.5, le=2.0)
    #: Denoising steps per audio frame (unset: the model's own, else 10).
    diffusion_steps: int | None = Field(None, ge=1, le=100)
    seed: int | None = Field(None, ge=0)
    #: Longest segment in characters, cut at sentence ends; 0 generates the whole text at once.
    segment_chars: int = Field(150, ge=0, le=5000)
    #: Silence between segments.
    pause_ms: int = Field(200, ge=0, le=5000)
    #: Segments synthesized ahead of what the client has received.
    lookahead_segments: int = Field(2, ge=1, le=64)
    #: Prepared reference clips kept in memory (least recently used go first).
    speaker_cache_size: int = Field(50, ge=1, le=10_000)
    #: Prepare every file of the voices directory at load (up to the cache size).
    preload_voices: bool = False
    #: Longer references are cut at a pause near this length.
    max_reference_seconds: float = Field(20.0, ge=3, le=120)
    #: Cap on audio frames (7.5 per second) per segment; unset: from the segment's length.
    max_new_tokens: int | None = Field(None, ge=1, le=100_000)
    #: That cap per character of the segment when ``max_new_tokens`` is unset (at least 24
    #: frames); speech needs about 0.5 (15 characters, 7.5 frames a second).
    max_frames_per_char: float = Field(2.0, gt=0, le=20)
    #: Frames every segment has at least (keeps a model from ending at once).
    min_new_tokens: int | None = Field(None, ge=0, le=100_000)
    #: Token ids the model may not emit (tests keep a random-weight model talking with it).
    suppress_tokens: tuple[int, ...] = ()
    #: Refuse ``speed`` and ``instructions`` (the chain moves on); false ignores them.
    strict_controls: bool = True
    #: Run one short generation at load so the first request does not pay for lazy setup.
    warmup: bool = True
