"""Routing: chains of engines with timeouts, retries, circuit breakers and fallback."""
