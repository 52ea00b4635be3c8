"""Requests at a steady rate on a kept-alive connection, for the benches that time the daemon's
HTTP overhead against a fake engine."""

from __future__ import annotations

import time

import httpx


class Pacer:
    """A fixed schedule of ``rate`` requests a second: each turn is due one interval after the
    last one was due, so a slow answer does not shift the ones after it."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_at = time.perf_counter()

    def wait_turn(self) -> None:
        now = time.perf_counter()
        if now < self.next_at:
            time.sleep(self.next_at - now)
        self.next_at += self.interval


def paced_embeddings(client: httpx.Client, requests: int, pacer: Pacer) -> list[float]:
    """``requests`` one-word embedding requests on ``client``, each at its turn; their latencies."""
    latencies = []
    for _ in range(requests):
        pacer.wait_turn()
        t0 = time.perf_counter()
        response = client.post("/v1/embeddings", json={"input": "hello"})
        latencies.append(time.perf_counter() - t0)
        response.raise_for_status()
    return latencies
