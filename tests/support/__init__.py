"""Test helpers shared across test folders (``tests/`` is on ``sys.path`` via its conftest)."""
