"""The runtime: engine lifecycles, the live configuration generation, reload and shutdown."""
