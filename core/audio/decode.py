"""Decode uploaded audio by its content, never by its file name.

soundfile (libsndfile) handles WAV/FLAC/OGG/AIFF quickly; PyAV, when installed, covers MP3, M4A,
WebM and anything else FFmpeg reads. Raw PCM and G.711 need the rate stated by the client.

A few kilobytes can declare hours of 8-channel 192 kHz audio (FLAC of silence compresses
almost to nothing), or a rate of 1 Hz that resampling turns into millions of samples. So the
header's rate, channels and length are checked before decoding; decoding then goes block by
block, each block mixed down to mono and resampled to ``target_rate`` (or down to ``max_rate``)
before the next is read. What a caller holds at the end is at most the mono audio at the rate
it asked for, whatever the file declared.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import soundfile

from core.audio.chunk import AudioChunk, FloatArray
from core.audio.errors import AudioDecodeError, AudioTooLarge
from core.audio.g711 import alaw_decode, ulaw_decode
from core.audio.resample import StreamResampler, resample

if TYPE_CHECKING:
    from av.audio.frame import AudioFrame
    from av.audio.stream import AudioStream
    from av.container import InputContainer

RawEncoding = Literal["pcm_s16le", "f32le", "mulaw", "alaw"]

# Containers libsndfile reads; others go straight to PyAV.
_SOUNDFILE_CONTAINERS = frozenset({"wav", "flac", "ogg", "aiff"})
#: Sample rates a real recording has: telephony's 8 kHz down to 4 kHz, studio 384 kHz at most.
MIN_RATE, MAX_RATE = 4_000, 384_000
#: More channels than any microphone array or ambisonic recording sends.
MAX_CHANNELS = 64
#: Samples (over all channels) read per block, so memory per block stays bounded.
_BLOCK_SAMPLES = 1 << 18


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
    *,
    max_rate: int | None = None,
) -> AudioChunk:
    """Decode to mono float32 at ``target_rate`` (or the file's own rate, lowered to ``max_rate``
    when given).

    Raises AudioDecodeError for anything that is not decodable audio, or declares a rate or a
    channel count no recording has, and AudioTooLarge when the audio runs past ``max_seconds``
    (checked from the header before decoding, and again on what is really decoded).
    """
    if not data:
        raise AudioDecodeError("the audio file is empty")
    if raw is not None:
        _check_format(raw.sample_rate, raw.channels)
        samples, rate = _decode_raw(data, raw)
        _check_length(len(samples), rate, max_seconds)
        out_rate = _output_rate(rate, target_rate, max_rate)
        samples = resample(samples, rate, out_rate)
    else:
        container = sniff_container(data)
        if container in _SOUNDFILE_CONTAINERS or container is None:
            try:
                samples, out_rate = _decode_soundfile(data, max_seconds, target_rate, max_rate)
            except (AudioTooLarge, _RefusedFormat):
                raise
            except AudioDecodeError:
                samples, out_rate = _decode_av(data, max_seconds, container, target_rate, max_rate)
        else:
            samples, out_rate = _decode_av(data, max_seconds, container, target_rate, max_rate)
    if len(samples) == 0:
        raise AudioDecodeError("the audio file contains no samples")
    # The resampler rings a little past full scale on clipped input: an AudioChunk holds [-1, 1].
    return AudioChunk(np.clip(samples, -1.0, 1.0).astype(np.float32, copy=False), out_rate)


def _in_range(samples: FloatArray) -> FloatArray:
    """Float samples as a player hears them: NaN silent, anything beyond full scale clipped.
    Done before resampling and mixing, which would smear a 1e30 (or overflow on it) into
    noise an engine transcribes as words, or chokes on."""
    return np.clip(np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)


class _RefusedFormat(AudioDecodeError):
    """The header declares something no recording has: no other decoder should try."""


def _check_format(rate: int, channels: int) -> None:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise _RefusedFormat(
            f"the audio declares a sample rate of {rate} Hz; "
            f"voxgate accepts {MIN_RATE}-{MAX_RATE} Hz"
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise _RefusedFormat(
            f"the audio declares {channels} channels; voxgate accepts 1-{MAX_CHANNELS}"
        )


def _output_rate(rate: int, target_rate: int | None, max_rate: int | None) -> int:
    if target_rate is not None:
        return target_rate
    if max_rate is not None and rate > max_rate:
        return max_rate
    return rate


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
        pcm = _in_range(np.frombuffer(data[:usable], dtype="<f4").astype(np.float32))
    elif raw.encoding == "mulaw":
        pcm = ulaw_decode(data).astype(np.float32) / 32768.0
    else:
        pcm = alaw_decode(data).astype(np.float32) / 32768.0
    if raw.channels > 1:
        pcm = pcm[: len(pcm) - len(pcm) % raw.channels].reshape(-1, raw.channels).mean(axis=1)
    return pcm.astype(np.float32), raw.sample_rate


class _MonoBlocks:
    """Collects decoded blocks as mono at the output rate, checking the length as it goes."""

    def __init__(self, rate: int, out_rate: int, max_seconds: float | None) -> None:
        self.rate = rate
        self.max_seconds = max_seconds
        self.frames = 0
        self._resampler = StreamResampler(rate, out_rate)
        self._parts: list[FloatArray] = []

    def add(self, block: npt.NDArray[np.float32]) -> None:
        """A (frames, channels) or mono block at the source rate."""
        block = _in_range(block)
        mono = block.mean(axis=1, dtype=np.float32) if block.ndim == 2 else block
        self.frames += len(mono)
        _check_length(self.frames, self.rate, self.max_seconds)
        out = self._resampler.process(np.ascontiguousarray(mono, dtype=np.float32))
        if len(out):
            self._parts.append(out)

    def result(self) -> FloatArray:
        tail = self._resampler.flush()
        if len(tail):
            self._parts.append(tail)
        if not self._parts:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._parts) if len(self._parts) > 1 else self._parts[0]


def _decode_soundfile(
    data: bytes, max_seconds: float | None, target_rate: int | None, max_rate: int | None
) -> tuple[FloatArray, int]:
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as sound:
            rate = int(sound.samplerate)
            _check_format(rate, int(sound.channels))
            # Refuse long audio before decoding it; a header that lies about its length only
            # earns the same 413, and reading stops at the real end of the data anyway.
            if 0 < sound.frames < 2**62:
                _check_length(sound.frames, rate, max_seconds)
            out_rate = _output_rate(rate, target_rate, max_rate)
            # Block by block: a streamed FLAC/OGG declares no length (libsndfile reports a huge
            # count), and the limit must hold on what is really decoded.
            blocks = _MonoBlocks(rate, out_rate, max_seconds)
            frames_per_block = max(_BLOCK_SAMPLES // sound.channels, 1024)
            while True:
                block = sound.read(frames_per_block, dtype="float32", always_2d=True)
                if len(block) == 0:
                    break
                blocks.add(block)
    except (AudioTooLarge, _RefusedFormat):
        raise
    except (RuntimeError, soundfile.LibsndfileError, ValueError, EOFError) as exc:
        raise AudioDecodeError(f"could not decode audio: {_short(exc)}") from None
    return blocks.result(), out_rate


def _decode_av(
    data: bytes,
    max_seconds: float | None,
    container: str | None,
    target_rate: int | None,
    max_rate: int | None,
) -> tuple[FloatArray, int]:
    try:
        import av
    except ImportError:
        what = container or "this"
        raise AudioDecodeError(
            f"could not decode audio: {what} format needs the 'codecs' extra (PyAV)"
        ) from None
    try:
        with av.open(io.BytesIO(data), mode="r") as source:
            streams = source.streams.audio
            if not streams:
                raise AudioDecodeError("could not decode audio: the file has no audio stream")
            stream = streams[0]
            if stream.codec_context is None:
                # The container names a codec FFmpeg has no decoder for (a WAV format tag it
                # does not know, or PCM of 0 bits).
                raise AudioDecodeError("could not decode audio: its codec is not supported")
            rate = int(stream.codec_context.sample_rate or 0)
            _check_format(rate, int(stream.codec_context.channels or 1))
            if stream.duration is not None and stream.time_base is not None:
                _check_length(int(stream.duration * stream.time_base * rate), rate, max_seconds)
            out_rate = _output_rate(rate, target_rate, max_rate)
            # FFmpeg's resampler mixes down and changes the rate frame by frame.
            to_mono = av.AudioResampler(format="flt", layout="mono", rate=out_rate)
            parts: list[FloatArray] = []
            decoded = 0
            for frame in _frames(source, stream):
                decoded += int(frame.samples)
                _check_length(decoded, rate, max_seconds)
                for converted in to_mono.resample(frame):
                    parts.append(_in_range(converted.to_ndarray().reshape(-1).astype(np.float32)))
            for converted in to_mono.resample(None):
                parts.append(_in_range(converted.to_ndarray().reshape(-1).astype(np.float32)))
    except (AudioDecodeError, AudioTooLarge):
        raise
    except Exception as exc:  # FFmpeg raises many error types; all mean "not decodable"
        raise AudioDecodeError(f"could not decode audio: {_short(exc)}") from None
    if not parts:
        raise AudioDecodeError("the audio file contains no samples")
    return np.concatenate(parts), out_rate


def _frames(source: InputContainer, stream: AudioStream) -> Iterator[AudioFrame]:
    """The stream's frames, read as FFmpeg's own tools read a damaged file: a packet the decoder
    rejects (the cut-off last frame of a truncated AAC recording) is skipped, and a container
    that breaks off ends the audio there. Only a file with no decodable frame at all fails."""
    import av

    packets = source.demux(stream)
    rejected: av.FFmpegError | None = None
    decoded = False
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.FFmpegError:
            if not decoded:
                raise
            break
        try:
            frames = packet.decode()
        except av.error.InvalidDataError as exc:
            rejected = rejected or exc
            continue
        for frame in frames:
            decoded = True
            yield frame
    if not decoded and rejected is not None:
        raise rejected


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
