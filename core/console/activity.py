"""Metrics at a glance: per HTTP route, requests, errors and mean latency so far.

Totals since start; the console turns two readings into a rate. Read from the runtime's own
Prometheus registry, so the numbers match ``/metrics`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.observability.metrics import Metrics


@dataclass
class RouteTotals:
    path: str
    requests: float = 0.0
    errors: float = 0.0
    latency_sum: float = 0.0
    latency_count: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        mean = self.latency_sum / self.latency_count if self.latency_count else None
        return {
            "path": self.path,
            "requests": int(self.requests),
            "errors": int(self.errors),
            "mean_latency_ms": round(mean * 1000, 1) if mean is not None else None,
        }


def route_totals(metrics: Metrics) -> list[dict[str, Any]]:
    """Every route that has answered, busiest first. An error is a 5xx answer or a client that
    left (499); 4xx answers are the client's mistakes, not the daemon's."""
    routes: dict[str, RouteTotals] = {}

    def entry(path: str) -> RouteTotals:
        return routes.setdefault(path, RouteTotals(path))

    for family in metrics.http_requests.collect():
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            totals = entry(sample.labels["path"])
            totals.requests += sample.value
            status = sample.labels["status"]
            if status.startswith("5") or status == "499":
                totals.errors += sample.value
    for family in metrics.http_latency.collect():
        for sample in family.samples:
            if sample.name.endswith("_sum"):
                entry(sample.labels["path"]).latency_sum += sample.value
            elif sample.name.endswith("_count"):
                entry(sample.labels["path"]).latency_count += sample.value
    ordered = sorted(routes.values(), key=lambda t: (-t.requests, t.path))
    return [t.as_dict() for t in ordered if t.requests or t.latency_count]
