"""cardpilot: credit-card limit and overdue management."""

__version__ = "0.1.0"
