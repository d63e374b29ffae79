"""Fixtures of the integration tests of the gate side."""

from tests.support.gate import tiny_skill_folders

__all__ = ["tiny_skill_folders"]
