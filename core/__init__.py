"""voxgate core: the framework that loads engine plugins, routes requests and serves the API."""

__version__ = "0.1.0"
