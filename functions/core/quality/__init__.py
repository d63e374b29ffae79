"""Data quality at ingest and extraction: image statistics and flags, perceptual hashes, near-duplicates."""
