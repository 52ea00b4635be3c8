"""Prometheus metrics, kept in a registry owned by one runtime (no process-wide globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from core.engines.worker_threads import shared_threads
from core.observability.decisions import RecentDecisions

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        #: Not a Prometheus metric: the last routing decisions themselves, for the console.
        self.decisions = RecentDecisions()
        r = self.registry
        self.requests = Counter(
            "voxgate_requests",
            "Routed requests by capability, serving engine and outcome.",
            ["capability", "engine", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "voxgate_request_seconds",
            "Time until an engine produced its result (first chunk when streaming).",
            ["capability", "engine"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.fallbacks = Counter(
            "voxgate_fallbacks",
            "Times a request moved past an engine in its chain.",
            ["capability", "engine", "reason"],
            registry=r,
        )
        self.breaker_trips = Counter(
            "voxgate_breaker_trips", "Circuit breakers opened.", ["engine"], registry=r
        )
        self.engine_loads = Counter(
            "voxgate_engine_loads", "Engine loads by outcome.", ["engine", "outcome"], registry=r
        )
        self.engine_load_seconds = Histogram(
            "voxgate_engine_load_seconds",
            "Time to load an engine.",
            ["engine"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.engines_loaded = Gauge(
            "voxgate_engines_loaded", "Engines currently loaded.", registry=r
        )
        self.engine_events = Counter(
            "voxgate_engine_events",
            "Events engines report, such as a worker process that crashed or restarted.",
            ["engine", "event"],
            registry=r,
        )
        self.reloads = Counter(
            "voxgate_config_reloads", "Configuration reloads by outcome.", ["outcome"], registry=r
        )
        self.http_requests = Counter(
            "voxgate_http_requests",
            "HTTP requests by route template and status.",
            ["method", "path", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "voxgate_http_request_seconds",
            "HTTP time until the response headers were sent.",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("voxgate_in_flight_requests", "Requests being served.", registry=r)
        self.engine_threads = Gauge(
            "voxgate_engine_threads",
            "Threads kept for blocking engine calls, busy or idle; calls that hung stay busy.",
            ["state"],
            registry=r,
        )
        threads = shared_threads()
        self.engine_threads.labels("busy").set_function(threads.busy_threads)
        self.engine_threads.labels("idle").set_function(threads.idle_threads)
        self.state_up = Gauge(
            "voxgate_state_backend_up",
            "1 while state is kept where configured (in process, or a reachable Valkey); "
            "0 while a fleet daemon runs on local state because its store is unreachable.",
            registry=r,
        )
        self.state_errors = Counter(
            "voxgate_state_backend_errors",
            "State store calls that failed or timed out (answered from local state).",
            ["operation"],
            registry=r,
        )
        self.rate_limited = Counter(
            "voxgate_rate_limited",
            "Requests refused by an API key's rate limit (an engine over its own limit counts "
            "in voxgate_fallbacks with reason rate_limited).",
            ["limit"],
            registry=r,
        )
        # Front doors beside HTTP (front_door="wyoming"); their engine calls are also counted
        # above, per capability and engine, like every routed request.
        self.front_door_requests = Counter(
            "voxgate_front_door_requests",
            "Requests on front doors other than HTTP, by door, request kind and outcome.",
            ["front_door", "request", "outcome"],
            registry=r,
        )
        self.front_door_latency = Histogram(
            "voxgate_front_door_request_seconds",
            "Time until a front-door request's first result (a transcript, the first audio).",
            ["front_door", "request"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.front_door_connections = Gauge(
            "voxgate_front_door_connections",
            "Open connections by front door.",
            ["front_door"],
            registry=r,
        )
        self.front_door_refused = Counter(
            "voxgate_front_door_refused",
            "Connections refused by front door and reason.",
            ["front_door", "reason"],
            registry=r,
        )
        self.realtime_sessions = Gauge(
            "voxgate_realtime_sessions", "Realtime sessions open.", registry=r
        )
        self.realtime_replies = Counter(
            "voxgate_realtime_replies",
            "Realtime replies that reached the client, by how they ended.",
            ["status"],
            registry=r,
        )
        self.realtime_first_audio = Histogram(
            "voxgate_realtime_first_audio_seconds",
            "From the start of the pause that ended a spoken turn to its reply's first audio.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
