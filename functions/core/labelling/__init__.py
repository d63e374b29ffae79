"""Labelling: crowd hand-off, label import and consolidation, expert review and its API."""
