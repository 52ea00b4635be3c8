"""Benchmarks: each module prints its figures and compares against the engine called directly."""
