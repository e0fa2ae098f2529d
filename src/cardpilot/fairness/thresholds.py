"""The fairness report's defaults: the outcome label, the flagging threshold, the confidence of
its intervals and the smallest group flagged. Plain values, so the command line can offer them
as defaults without loading the report's numerical libraries."""

from __future__ import annotations

DEFAULT_LABEL = "default_next_month"
FOUR_FIFTHS = 0.8
CONFIDENCE = 0.95
# Groups with fewer reviewed accounts are reported with their count but never flagged: a
# handful of decisions moves their rates too far for a ratio of rates to mean anything, and
# they are never the reference group while a larger one exists.
MIN_GROUP_ACCOUNTS = 100
