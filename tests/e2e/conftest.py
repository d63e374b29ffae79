"""Fixtures of the local-mode tests of the gate side."""

from tests.support.gate import tiny_skill_folders

__all__ = ["tiny_skill_folders"]
