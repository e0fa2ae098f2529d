"""The aging over the store: ``cardpilot aging``.

    statements, ledger payments ─► age every cycle date up to as_of (and as_of) ─► store each
    snapshot ─► report

The snapshots replace the stored ones of their dates (``store.aging_snapshots``), so a re-run
of a date is idempotent; the report (``overdue.run.AgingReport``) gives buckets on ``as_of``
and the roll rates between the last two cycle snapshots. With a store, days past due come from
what the ledger shows due and unpaid where it can (``overdue.aging.LedgerPayments``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl
from sqlalchemy import Engine

from cardpilot.batch.ledger_view import known_through, read_ledger_payments
from cardpilot.config import get_settings
from cardpilot.overdue.aging import LedgerPayments
from cardpilot.overdue.run import AgingReport, age_snapshots
from cardpilot.overdue.schema import OverduePolicy
from cardpilot.store.aging_snapshots import replace_snapshot


def run_aging(
    engine: Engine | None,
    statements: pl.DataFrame,
    as_of: dt.date,
    policy: OverduePolicy,
    *,
    store: bool = True,
    progress: Callable[[dt.date], None] | None = None,
    timezone: str | None = None,
) -> AgingReport:
    """Age every snapshot date, store the snapshots (when ``store`` and an engine is given).
    ``timezone``: the issuer's, in which payments are dated (default ``CARDPILOT_TIMEZONE``)."""
    db = engine if store else None
    ledger: LedgerPayments | None = None
    if engine is not None:
        known = known_through(engine, timezone or get_settings().timezone)
        with engine.connect() as conn:
            ledger = read_ledger_payments(conn, as_of, known)

    def save(snapshot: pl.DataFrame, kind: str) -> int:
        assert db is not None
        return replace_snapshot(db, snapshot, kind)

    return age_snapshots(
        statements,
        as_of,
        policy,
        save=save if db is not None else None,
        progress=progress,
        ledger=ledger,
    )
