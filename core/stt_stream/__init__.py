"""Live transcription: a session fed audio chunks that reports partial and final transcripts.

Engine-independent: it takes any transcriber (an STT engine or a router call) and any speech
detector (a VAD engine's), re-buffers audio of any rate and encoding into the detector's frames,
and cuts utterances at the end of speech.
"""

from core.stt_stream.endpointing import EndpointingOptions
from core.stt_stream.events import (
    FinalTranscript,
    PartialTranscript,
    SessionEvent,
    TranscribedAudio,
    Transcriber,
    TranscriptFailed,
)
from core.stt_stream.framing import InputFormat
from core.stt_stream.session import SessionOptions, TranscriptionSession

__all__ = [
    "EndpointingOptions",
    "FinalTranscript",
    "InputFormat",
    "PartialTranscript",
    "SessionEvent",
    "SessionOptions",
    "TranscribedAudio",
    "Transcriber",
    "TranscriptFailed",
    "TranscriptionSession",
]
