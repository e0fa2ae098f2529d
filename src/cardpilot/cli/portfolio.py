"""Portfolio commands: import, generate, summary (foundation issue)."""

from __future__ import annotations

from cardpilot.cli import app  # noqa: F401
