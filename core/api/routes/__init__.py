"""Route modules, one per API area; each exposes ``routes``."""
