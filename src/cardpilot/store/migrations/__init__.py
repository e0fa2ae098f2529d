"""Alembic migrations of the portfolio store."""
