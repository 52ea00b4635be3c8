"""The Wyoming front door: Home Assistant's voice protocol served from voxgate's own engines.

A TCP listener beside the HTTP one (``wyoming:`` in the YAML). Each request (describe,
transcribe, synthesize, streaming synthesis) leases the configuration current when it starts
and goes through the same router as HTTP requests: chains, fallback, breakers, limits, metrics.
The ``wyoming`` package is imported only when the listener is enabled.
"""
