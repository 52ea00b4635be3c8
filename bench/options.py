"""Command-line options that several benches share."""

from __future__ import annotations

import argparse


def add_overhead_options(
    parser: argparse.ArgumentParser, *, rounds: int, requests: int, rate: float
) -> None:
    """The options of a bench that times the gateway's own cost twice: calls in process, then
    paced requests over HTTP."""
    parser.add_argument("--rounds", type=int, default=rounds, help="calls timed in process")
    parser.add_argument("--requests", type=int, default=requests, help="HTTP requests timed")
    parser.add_argument("--rate", type=float, default=rate, help="HTTP requests per second")
