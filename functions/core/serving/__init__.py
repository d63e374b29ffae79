"""Serving: the deployed cascade answers every upload's crops (and reprocesses stored crops)."""
