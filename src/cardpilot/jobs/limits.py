"""``cardpilot limits apply-pending``: decreases whose notice period is over take effect.

A review stores each decrease as a pending change effective ``decrease_notice_days`` after the
decision (the notify policy). This job, run daily, applies the changes effective on or before
its as-of date (default: today in the issuer's time zone); the next review does the same before
it reads any account. Running it again on the same day changes nothing.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from cardpilot.batch.pending_limits import apply_pending_limits
from cardpilot.config import get_settings
from cardpilot.store.pending_limits import AppliedChanges


def apply_pending(db: Engine, as_of: dt.date | None = None) -> AppliedChanges:
    """Apply the pending limit changes due by ``as_of`` (default today, issuer's time zone)."""
    zone = get_settings().timezone
    day = as_of or dt.datetime.now(ZoneInfo(zone)).date()
    return apply_pending_limits(db, day, zone=zone)
