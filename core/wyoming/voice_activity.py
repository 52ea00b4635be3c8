"""Server-side end of speech (``wyoming.end_of_speech_silence``): the ``vad`` route's detector
follows a command's audio as it arrives and says where speech starts and ends
(``voice-started``/``voice-stopped``, timestamps in milliseconds of the stream). The first end
of speech ends the command: it is transcribed at once, without waiting for ``audio-stop``.
"""

from __future__ import annotations

import numpy as np
from wyoming.event import Event
from wyoming.vad import VoiceStarted, VoiceStopped

from core.engines.vad import SpeechDetector
from core.stt_stream.endpointing import Change, Endpointer, EndpointingOptions
from core.stt_stream.framing import Framer


class VoiceWatch:
    """Speech probabilities frame by frame; blocking (1-2 ms per 32 ms frame): use a thread."""

    def __init__(
        self, detector: SpeechDetector, detector_rate: int, input_rate: int, silence: float
    ) -> None:
        detector.reset()
        self._detector = detector
        self._rate = detector_rate
        self._framer = Framer(input_rate, detector_rate, detector.frame_size)
        self._endpointer = Endpointer(
            EndpointingOptions(min_silence_ms=round(silence * 1000)),
            detector.frame_size,
            detector_rate,
        )
        #: Set once speech has started and ended: the command is complete.
        self.ended = False

    def push(self, pcm: bytes) -> list[Event]:
        """Mono 16-bit PCM in; the voice events it completes out."""
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / np.float32(32768)
        events: list[Event] = []
        for frame in self._framer.push(samples):
            if self.ended:
                break
            transition = self._endpointer.push(self._detector.probability(frame))
            if transition is None:
                continue
            if transition.change is Change.STARTED:
                events.append(VoiceStarted(timestamp=self._ms(transition.start)).event())
                continue
            events.append(VoiceStopped(timestamp=self._ms(transition.end)).event())
            # A click or a cough (shorter than the shortest speech) does not end the command.
            self.ended = transition.change is Change.ENDED
        return events

    def _ms(self, sample: int) -> int:
        return sample * 1000 // self._rate
