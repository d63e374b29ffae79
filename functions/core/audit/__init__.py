"""Audit: zero-loss accounting of the pipeline, dead-letter peek and redrive."""
