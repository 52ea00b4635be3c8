"""The HTTP API: an OpenAI-compatible data plane plus control, health and metrics routes."""
