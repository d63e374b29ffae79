"""Drift monitor: incoming photos and served answers of each day against the skill's training reference."""
