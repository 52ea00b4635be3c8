"""Isolated engine workers: engines whose libraries conflict with the main environment."""
