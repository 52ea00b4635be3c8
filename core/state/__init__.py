"""Shared state: breakers, rate limits, conversation history and fleet reloads, kept in this
process or, for a fleet of daemons, in Valkey."""
