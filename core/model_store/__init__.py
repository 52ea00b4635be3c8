"""The model manager: known models per plugin, where they live, download and validation."""
