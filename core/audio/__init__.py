"""Engine-independent audio: the chunk type, decoding, encoding, resampling and G.711."""

from core.audio.chunk import AudioChunk

__all__ = ["AudioChunk"]
