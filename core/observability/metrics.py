"""Prometheus metrics, kept in a registry owned by one runtime (no process-wide globals)."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from core.engines.worker_threads import shared_threads
from core.observability.decisions import RecentDecisions

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        #: Not a Prometheus metric: the last routing decisions themselves, for the console.
        self.decisions = RecentDecisions()
        self.requests = self._counter(
            "voxgate_requests",
            "Routed requests by capability, serving engine and outcome.",
            ["capability", "engine", "outcome"],
        )
        self.latency = self._histogram(
            "voxgate_request_seconds",
            "Time until an engine produced its result (first chunk when streaming).",
            ["capability", "engine"],
        )
        self.fallbacks = self._counter(
            "voxgate_fallbacks",
            "Times a request moved past an engine in its chain.",
            ["capability", "engine", "reason"],
        )
        self.breaker_trips = self._counter(
            "voxgate_breaker_trips", "Circuit breakers opened.", ["engine"]
        )
        self.engine_loads = self._counter(
            "voxgate_engine_loads", "Engine loads by outcome.", ["engine", "outcome"]
        )
        self.engine_load_seconds = self._histogram(
            "voxgate_engine_load_seconds",
            "Time to load an engine.",
            ["engine"],
        )
        self.engines_loaded = self._gauge("voxgate_engines_loaded", "Engines currently loaded.")
        self.engine_events = self._counter(
            "voxgate_engine_events",
            "Events engines report, such as a worker process that crashed or restarted.",
            ["engine", "event"],
        )
        self.reloads = self._counter(
            "voxgate_config_reloads", "Configuration reloads by outcome.", ["outcome"]
        )
        self.http_requests = self._counter(
            "voxgate_http_requests",
            "HTTP requests by route template and status.",
            ["method", "path", "status"],
        )
        self.http_latency = self._histogram(
            "voxgate_http_request_seconds",
            "HTTP time until the response headers were sent.",
            ["path"],
        )
        self.in_flight = self._gauge("voxgate_in_flight_requests", "Requests being served.")
        self.engine_threads = self._gauge(
            "voxgate_engine_threads",
            "Threads kept for blocking engine calls, busy or idle; calls that hung stay busy.",
            ["state"],
        )
        threads = shared_threads()
        self.engine_threads.labels("busy").set_function(threads.busy_threads)
        self.engine_threads.labels("idle").set_function(threads.idle_threads)
        self.state_up = self._gauge(
            "voxgate_state_backend_up",
            "1 while state is kept where configured (in process, or a reachable Valkey); "
            "0 while a fleet daemon runs on local state because its store is unreachable.",
        )
        self.state_errors = self._counter(
            "voxgate_state_backend_errors",
            "State store calls that failed or timed out (answered from local state).",
            ["operation"],
        )
        self.rate_limited = self._counter(
            "voxgate_rate_limited",
            "Requests refused by an API key's rate limit (an engine over its own limit counts "
            "in voxgate_fallbacks with reason rate_limited).",
            ["limit"],
        )
        # Front doors beside HTTP (front_door="wyoming"); their engine calls are also counted
        # above, per capability and engine, like every routed request.
        self.front_door_requests = self._counter(
            "voxgate_front_door_requests",
            "Requests on front doors other than HTTP, by door, request kind and outcome.",
            ["front_door", "request", "outcome"],
        )
        self.front_door_latency = self._histogram(
            "voxgate_front_door_request_seconds",
            "Time until a front-door request's first result (a transcript, the first audio).",
            ["front_door", "request"],
        )
        self.front_door_connections = self._gauge(
            "voxgate_front_door_connections",
            "Open connections by front door.",
            ["front_door"],
        )
        self.front_door_refused = self._counter(
            "voxgate_front_door_refused",
            "Connections refused by front door and reason.",
            ["front_door", "reason"],
        )
        self.realtime_sessions = self._gauge("voxgate_realtime_sessions", "Realtime sessions open.")
        self.realtime_replies = self._counter(
            "voxgate_realtime_replies",
            "Realtime replies that reached the client, by how they ended.",
            ["status"],
        )
        self.realtime_first_audio = self._histogram(
            "voxgate_realtime_first_audio_seconds",
            "From the start of the pause that ended a spoken turn to its reply's first audio.",
        )

    def _counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def _gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(name, documentation, labels, registry=self.registry)

    def _histogram(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Histogram:
        """Every histogram here times something, so all share the latency buckets."""
        return Histogram(
            name, documentation, labels, buckets=LATENCY_BUCKETS, registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
