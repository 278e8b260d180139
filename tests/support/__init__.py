"""Helpers shared by the tests (importable as ``support`` once tests/conftest.py has run)."""
