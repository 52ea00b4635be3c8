"""Text helpers shared by engines (sentence segmentation for speech synthesis)."""

from core.text.segment import SentenceSegmenter, split_sentences

__all__ = ["SentenceSegmenter", "split_sentences"]
