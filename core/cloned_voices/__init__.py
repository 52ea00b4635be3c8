"""Cloned voices: reference clips and their descriptions, kept under the data directory."""
