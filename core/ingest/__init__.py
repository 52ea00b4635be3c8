"""Turning documents into retrievable chunks: text extraction and chunking (no engine library)."""
