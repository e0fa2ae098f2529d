"""The aging behind ``cardpilot aging``: snapshots per cycle, and the report.

For every statement cycle date on or before ``as_of`` (and ``as_of`` itself when it is not a
cycle date) the portfolio is aged with ``age_accounts`` and each snapshot is handed to the
caller to store (``jobs.aging``: ``aging_snapshots``, replacing that date's rows). The report gives
counts and balances per bucket on ``as_of`` and the roll rates between the last two cycle
snapshots (month-on-month, the usual collections measure).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from cardpilot.domain.money import format_major
from cardpilot.overdue.aging import (
    LedgerPayments,
    age_accounts,
    bucket_summary,
    roll_rates,
    roll_summary,
)
from cardpilot.overdue.schema import OverduePolicy


@dataclass(frozen=True)
class AgingReport:
    as_of: dt.date
    policy_version: str
    snapshot_dates: tuple[dt.date, ...]
    accounts: int
    buckets: pl.DataFrame
    roll_from: dt.date | None
    roll_to: dt.date | None
    rolls: dict[str, list[dict[str, object]]] | None
    stored_rows: int
    # The last day the store's payment data reaches: up to it, days past due come from what the
    # ledger shows due and unpaid (statements with a minimum due); None: the statements' own.
    payments_known_through: dt.date | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "policy_version": self.policy_version,
            "accounts": self.accounts,
            "snapshots": [d.isoformat() for d in self.snapshot_dates],
            "stored_rows": self.stored_rows,
            "payments_known_through": None
            if self.payments_known_through is None
            else self.payments_known_through.isoformat(),
            "buckets": [
                {
                    "bucket": r["bucket"],
                    "accounts": r["accounts"],
                    "balance": format_major(r["balance_minor"]),
                    "overdue_balance": format_major(r["overdue_balance_minor"]),
                    "write_off_accounts": r["write_off_accounts"],
                }
                for r in self.buckets.iter_rows(named=True)
            ],
            "roll_rates": None
            if self.rolls is None
            else {
                "from": self.roll_from.isoformat() if self.roll_from else None,
                "to": self.roll_to.isoformat() if self.roll_to else None,
                **self.rolls,
            },
        }


def snapshot_dates(statements: pl.DataFrame, as_of: dt.date) -> tuple[list[dt.date], bool]:
    """Cycle dates up to ``as_of``, plus ``as_of`` itself; and whether it is a cycle date."""
    cycles = sorted(
        d for d in statements["cycle_date"].unique().to_list() if d is not None and d <= as_of
    )
    is_cycle = bool(cycles) and cycles[-1] == as_of
    return (cycles if is_cycle else [*cycles, as_of]), is_cycle


def age_snapshots(
    statements: pl.DataFrame,
    as_of: dt.date,
    policy: OverduePolicy,
    *,
    save: Callable[[pl.DataFrame, str], int] | None = None,
    progress: Callable[[dt.date], None] | None = None,
    ledger: LedgerPayments | None = None,
) -> AgingReport:
    """Age every snapshot date; ``save(snapshot, kind)`` stores each one (``kind``: ``cycle``
    or ``daily``) and returns the rows it wrote. ``ledger``: the ledger's payments, which
    decide days past due where they can (``overdue.aging``)."""
    dates, as_of_is_cycle = snapshot_dates(statements, as_of)
    snapshots: dict[dt.date, pl.DataFrame] = {}
    stored = 0
    for day in dates:
        if progress is not None:
            progress(day)
        snap = age_accounts(statements, day, policy, ledger)
        snapshots[day] = snap
        if save is not None:
            stored += save(snap, "cycle" if (day != as_of or as_of_is_cycle) else "daily")
    cycle_dates = dates if as_of_is_cycle else dates[:-1]
    scale = policy.file.aging.scale()
    current = snapshots.get(as_of, pl.DataFrame())
    buckets = (
        bucket_summary(current, scale)
        if current.height
        else bucket_summary(age_accounts(statements.head(0), as_of, policy), scale)
    )
    rolls = roll_from = roll_to = None
    if len(cycle_dates) >= 2:
        roll_from, roll_to = cycle_dates[-2], cycle_dates[-1]
        rolls = roll_summary(roll_rates(snapshots[roll_from], snapshots[roll_to]), scale)
    return AgingReport(
        as_of=as_of,
        policy_version=policy.version,
        snapshot_dates=tuple(dates),
        accounts=current.height,
        buckets=buckets,
        roll_from=roll_from,
        roll_to=roll_to,
        rolls=rolls,
        stored_rows=stored,
        payments_known_through=None if ledger is None else ledger.known_through,
    )
