"""Where the early-warning triggers run for the accounts a batch changed.

``evaluate_triggers`` is called once per batch, inside the batch's store transaction, with the
accounts whose running features the batch changed; whatever it writes (intervention decisions,
outbox rows) therefore commits with the batch's postings and features or not at all, and a
batch delivered again after a crash adds nothing twice (its events are duplicates by then).

The trigger rules themselves (``warning.yaml``: score, change and event-pattern rules mapped to
interventions) are not wired in yet: this function is the one place they go, and returns the
number of interventions it stored (none until then).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import Connection

from cardpilot.events.features import AccountFeatures


def evaluate_triggers(
    conn: Connection, changed: Mapping[str, AccountFeatures], now: dt.datetime
) -> int:
    """Interventions stored for the ``changed`` accounts, in the caller's transaction."""
    del conn, changed, now
    return 0
