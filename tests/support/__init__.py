"""Test support: fakes, builders and fixtures shared by the suites."""
