"""Synthetic submissions for demos and tests (`pmm sample`)."""
