"""Telling the assistant's own voice, picked up again by the user's microphone, from the user.

For clients without echo cancellation (a speakerphone, a bare SIP bridge). The guard keeps the
reply audio it sent, placed on the wall clock where the client plays it (from the first byte on,
in real time: the same estimate that decides what was heard). Speech that starts while that
audio plays, or within ``tail`` after it, is compared with it before it may barge in:

1. Both are cut into 20 ms windows every 10 ms, and each window is reduced to the log energy of
   20 bands between 250 and 3400 Hz (the telephone band, so G.711 audio compares the same),
   floored 30 dB below the loudest value of the stretch (background noise is not compared).
2. Each band's levels, and their changes from one hop to the next, are normalized over the
   compared stretch (mean 0, variance 1): loudness and the room's or line's colouring drop out,
   the shape of the sound over time (syllables starting and stopping) stays.
3. The heard speech is compared (cosine similarity of those vectors) with the played audio at
   every delay from -0.2 s (a client playing sooner than estimated) to ``max_delay`` (playback
   buffering, the acoustic path, the network).

The best score is the similarity: an echo scores near 1 at its delay, the user's own words
score low. Measured on 0.5 s probes with speech in them, of the bundled voice against itself
saying other sentences (the hardest case: the same voice): echoes delayed 0-0.45 s, half as
loud, with noise, scored 0.97 at the median and 0.86 at the least (alike through G.711); the
other sentences scored 0.25 at the median and 0.54 at most (531 probes). A strongly
reverberant room (a 150 ms tail) smears an echo to about 0.57 at the median: lower
``similarity`` there. Above ``similarity`` (0.6) the speech is echo: it neither barges in nor
becomes a user turn. It is compared again every ``probe`` while it lasts, so a user talking over
the echo still barges in.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from core.audio.chunk import FloatArray
from core.config.schema import EchoGuardConfig

_RATE = 16_000
_WINDOW = 320
_HOP = 160
_BANDS = 20
#: Values more than this far (natural log, 30 dB) below the stretch's loudest are raised to it.
_FLOOR = 3.0 * 2.302585
_LOW_HZ, _HIGH_HZ = 250.0, 3400.0
#: How much sooner than estimated the client may play the audio.
_EARLY_S = 0.2
#: Reference audio kept beyond the longest comparison.
_KEEP_S = 4.0


def _band_edges() -> npt.NDArray[np.int64]:
    edges_hz = np.geomspace(_LOW_HZ, _HIGH_HZ, _BANDS + 1)
    fft_size = 512
    return np.round(edges_hz / (_RATE / fft_size)).astype(np.int64)


def band_envelope(samples: FloatArray) -> npt.NDArray[np.float64]:
    """Log band energies, one row per 10 ms hop."""
    if len(samples) < _WINDOW:
        return np.zeros((0, _BANDS))
    count = 1 + (len(samples) - _WINDOW) // _HOP
    index = np.arange(_WINDOW)[None, :] + _HOP * np.arange(count)[:, None]
    windows = samples[index] * np.hanning(_WINDOW)[None, :]
    power = np.abs(np.fft.rfft(windows, n=512, axis=1)) ** 2
    edges = _band_edges()
    bands = np.stack(
        [power[:, edges[b] : max(edges[b + 1], edges[b] + 1)].sum(axis=1) for b in range(_BANDS)],
        axis=1,
    )
    return np.log(bands + 1e-10)


def _per_band(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    centred = values - values.mean(axis=0, keepdims=True)
    scale = centred.std(axis=0, keepdims=True)
    normalized: npt.NDArray[np.float64] = centred / np.where(scale > 1e-6, scale, 1.0)
    return normalized


def features(envelope: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The compared vector: band levels and their changes from hop to hop, each band
    normalized over the stretch."""
    floored = np.maximum(envelope, envelope.max() - _FLOOR)
    levels = _per_band(floored[1:])
    changes = _per_band(np.diff(floored, axis=0))
    vector: npt.NDArray[np.float64] = np.concatenate([levels.ravel(), changes.ravel()])
    return vector


def similarity(heard: FloatArray, played: FloatArray, max_lag_hops: int) -> float:
    """Best cosine similarity of ``heard`` with a stretch of ``played`` ending 0..``max_lag_hops``
    hops before its end (``played`` must reach the moment ``heard`` ends)."""
    heard_env = band_envelope(heard)
    played_env = band_envelope(played)
    frames = len(heard_env)
    if frames < 4 or len(played_env) < frames:
        return 0.0
    heard_vec = features(heard_env)
    heard_norm = float(np.linalg.norm(heard_vec))
    if heard_norm == 0:
        return 0.0
    best = 0.0
    for lag in range(0, max_lag_hops + 1):
        end = len(played_env) - lag
        if end - frames < 0:
            break
        window = features(played_env[end - frames : end])
        norm = float(np.linalg.norm(window))
        if norm > 0:
            best = max(best, float(np.dot(heard_vec, window)) / (heard_norm * norm))
    return best


class EchoGuard:
    def __init__(self, config: EchoGuardConfig) -> None:
        self.config = config
        self._audio = np.zeros(0, dtype=np.float32)
        #: Wall-clock time at which ``_audio[0]`` plays.
        self._start = 0.0

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    def played(self, samples: FloatArray, at: float) -> None:
        """Reply audio (16 kHz) that the client plays from wall-clock time ``at`` on."""
        if not self.enabled or len(samples) == 0:
            return
        end = self._start + len(self._audio) / _RATE
        if len(self._audio) == 0 or at > end + 0.05 or at < self._start:
            # A new reply (or a gap): start a fresh stretch, silence in small gaps.
            self._audio, self._start = samples.astype(np.float32), at
            return
        gap = round((at - end) * _RATE)
        parts = [self._audio]
        if gap > 0:
            parts.append(np.zeros(gap, dtype=np.float32))
        elif gap < 0:
            parts[0] = self._audio[: len(self._audio) + gap]
        parts.append(samples.astype(np.float32))
        self._audio = np.concatenate(parts)
        keep = int(_KEEP_S * _RATE)
        if len(self._audio) > keep:
            drop = len(self._audio) - keep
            self._audio = self._audio[drop:]
            self._start += drop / _RATE

    def active(self, now: float) -> bool:
        """Whether speech starting ``now`` could be the reply's echo."""
        if not self.enabled or len(self._audio) == 0:
            return False
        end = self._start + len(self._audio) / _RATE
        return self._start <= now <= end + self.config.tail + self.config.max_delay

    def is_echo(self, heard: FloatArray, heard_end: float) -> bool:
        """Whether ``heard`` (16 kHz, ending at wall-clock ``heard_end``) resembles the reply
        audio that played up to ``max_delay`` before it."""
        return self.score(heard, heard_end) >= self.config.similarity

    def score(self, heard: FloatArray, heard_end: float) -> float:
        if len(self._audio) == 0:
            return 0.0
        duration = len(heard) / _RATE
        # The client may play a little sooner than estimated (it is sent ahead of time).
        latest = heard_end + _EARLY_S
        span_start = heard_end - duration - self.config.max_delay
        first = round((span_start - self._start) * _RATE)
        last = round((latest - self._start) * _RATE)
        if last <= 0:
            return 0.0
        # Before and after the reply there was nothing to hear from it: silence.
        before = max(-first, 0)
        after = max(last - len(self._audio), 0)
        played = self._audio[max(first, 0) : min(last, len(self._audio))]
        played = np.concatenate(
            [np.zeros(before, dtype=np.float32), played, np.zeros(after, dtype=np.float32)]
        )
        lags = int((self.config.max_delay + _EARLY_S) * _RATE / _HOP)
        return similarity(heard, played, lags)
