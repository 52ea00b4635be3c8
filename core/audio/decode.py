"""Decode uploaded audio by its content, never by its file name.

soundfile (libsndfile) handles WAV/FLAC/OGG/AIFF quickly; PyAV, when installed, covers MP3, M4A,
WebM and anything else FFmpeg reads. Raw PCM and G.711 need the rate stated by the client.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import soundfile

from core.audio.chunk import AudioChunk, FloatArray
from core.audio.errors import AudioDecodeError, AudioTooLarge
from core.audio.g711 import alaw_decode, ulaw_decode
from core.audio.resample import resample

RawEncoding = Literal["pcm_s16le", "f32le", "mulaw", "alaw"]

# Containers libsndfile reads; others go straight to PyAV.
_SOUNDFILE_CONTAINERS = frozenset({"wav", "flac", "ogg", "aiff"})


@dataclass(frozen=True, slots=True)
class RawFormat:
    """Headerless audio described by the client."""

    encoding: RawEncoding
    sample_rate: int
    channels: int = 1


def sniff_container(data: bytes) -> str | None:
    """Name the container from magic bytes, or None when nothing matches."""
    head = data[:12]
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def decode_audio(
    data: bytes,
    target_rate: int | None = None,
    raw: RawFormat | None = None,
    max_seconds: float | None = None,
) -> AudioChunk:
    """Decode to mono float32, optionally resampled to ``target_rate``.

    Raises AudioDecodeError for anything that is not decodable audio and AudioTooLarge when the
    audio runs past ``max_seconds`` (checked before the whole file is decoded where possible).
    """
    if not data:
        raise AudioDecodeError("the audio file is empty")
    if raw is not None:
        samples, rate = _decode_raw(data, raw)
    else:
        container = sniff_container(data)
        if container in _SOUNDFILE_CONTAINERS or container is None:
            try:
                samples, rate = _decode_soundfile(data, max_seconds)
            except AudioTooLarge:
                raise
            except AudioDecodeError:
                samples, rate = _decode_av(data, max_seconds, container)
        else:
            samples, rate = _decode_av(data, max_seconds, container)
    if len(samples) == 0:
        raise AudioDecodeError("the audio file contains no samples")
    _check_length(len(samples), rate, max_seconds)
    if not np.all(np.isfinite(samples)):
        samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    if target_rate is not None and target_rate != rate:
        samples = resample(samples, rate, target_rate)
        rate = target_rate
    return AudioChunk(np.ascontiguousarray(samples, dtype=np.float32), rate)


def _check_length(frames: int, rate: int, max_seconds: float | None) -> None:
    if max_seconds is not None and rate > 0 and frames / rate > max_seconds:
        raise AudioTooLarge(
            f"the audio is {frames / rate:.0f} s long; the limit is {max_seconds:.0f} s"
        )


def _decode_raw(data: bytes, raw: RawFormat) -> tuple[FloatArray, int]:
    if raw.encoding == "pcm_s16le":
        usable = len(data) - len(data) % (2 * raw.channels)
        pcm = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0
    elif raw.encoding == "f32le":
        usable = len(data) - len(data) % (4 * raw.channels)
        pcm = np.frombuffer(data[:usable], dtype="<f4").astype(np.float32)
    elif raw.encoding == "mulaw":
        pcm = ulaw_decode(data).astype(np.float32) / 32768.0
    else:
        pcm = alaw_decode(data).astype(np.float32) / 32768.0
    if raw.channels > 1:
        pcm = pcm[: len(pcm) - len(pcm) % raw.channels].reshape(-1, raw.channels).mean(axis=1)
    return pcm.astype(np.float32), raw.sample_rate


def _decode_soundfile(data: bytes, max_seconds: float | None) -> tuple[FloatArray, int]:
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as sound:
            rate = int(sound.samplerate)
            if rate <= 0:
                raise AudioDecodeError("the audio header declares no sample rate")
            # Refuse long audio before decoding it; a header that lies about its length only
            # earns the same 413, and read() stops at the real end of the data anyway.
            if 0 < sound.frames < 2**62:
                _check_length(sound.frames, rate, max_seconds)
            frames = _read_blocks(sound, rate, max_seconds)
    except (RuntimeError, soundfile.LibsndfileError, ValueError, EOFError) as exc:
        raise AudioDecodeError(f"could not decode audio: {_short(exc)}") from None
    return frames.mean(axis=1, dtype=np.float32) if frames.shape[1] > 1 else frames[:, 0], rate


def _read_blocks(
    sound: soundfile.SoundFile, rate: int, max_seconds: float | None
) -> npt.NDArray[np.float32]:
    # Block-wise: a streamed FLAC/OGG declares no length (libsndfile reports a huge count), and
    # the limit must hold on what is really decoded.
    blocks: list[npt.NDArray[np.float32]] = []
    total = 0
    while True:
        block = sound.read(65536, dtype="float32", always_2d=True)
        if len(block) == 0:
            break
        blocks.append(block)
        total += len(block)
        _check_length(total, rate, max_seconds)
    if not blocks:
        return np.zeros((0, max(sound.channels, 1)), dtype=np.float32)
    return np.concatenate(blocks)


def _decode_av(
    data: bytes, max_seconds: float | None, container: str | None
) -> tuple[FloatArray, int]:
    try:
        import av
    except ImportError:
        what = container or "this"
        raise AudioDecodeError(
            f"could not decode audio: {what} format needs the 'codecs' extra (PyAV)"
        ) from None
    parts: list[FloatArray] = []
    total = 0
    rate = 0
    try:
        with av.open(io.BytesIO(data), mode="r") as source:
            streams = source.streams.audio
            if not streams:
                raise AudioDecodeError("could not decode audio: the file has no audio stream")
            stream = streams[0]
            rate = int(stream.codec_context.sample_rate or stream.rate or 0)
            if rate <= 0:
                raise AudioDecodeError("could not decode audio: unknown sample rate")
            to_mono = av.AudioResampler(format="flt", layout="mono", rate=rate)
            for frame in source.decode(stream):
                for converted in to_mono.resample(frame):
                    block = converted.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    parts.append(block)
                    total += len(block)
                _check_length(total, rate, max_seconds)
    except (AudioDecodeError, AudioTooLarge):
        raise
    except Exception as exc:  # FFmpeg raises many error types; all mean "not decodable"
        raise AudioDecodeError(f"could not decode audio: {_short(exc)}") from None
    if not parts:
        raise AudioDecodeError("the audio file contains no samples")
    return np.concatenate(parts), rate


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
