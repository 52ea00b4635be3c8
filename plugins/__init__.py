"""Bundled plugins. Each is shaped exactly like a third-party plugin package and registers
through the same ``voxgate`` entry-point group."""
