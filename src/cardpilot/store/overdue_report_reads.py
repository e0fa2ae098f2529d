"""What the overdue report reads from the store: aging snapshots, treatment decisions and
repayment plans, summed where the report sums them.

Every function takes an open connection (the report reads one consistent picture through one)
and returns plain typed values; dates come back as ``datetime.date`` on every back end.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Connection, Date, TextualSelect, text

# A to-bucket for an account missing from the later snapshot (``overdue.aging.EXITED``).
EXITED = "exited"


@dataclass(frozen=True)
class BucketTotals:
    accounts: int
    balance_minor: int
    overdue_balance_minor: int


@dataclass(frozen=True)
class SegmentCharges:
    """The charges the treatments of one risk segment assessed and stored with themselves."""

    segment: str
    treatments: int
    penalty_interest_minor: int
    late_fee_minor: int
    waived_minor: int


@dataclass(frozen=True)
class UnchargedTreatment:
    """A treatment stored before migration 0009, without its charges: what deriving them needs."""

    segment: str
    days_past_due: int
    overdue_balance_minor: int
    fee_waiver_share_bp: int
    minimum_due_minor: int | None  # of the latest statement on or before the decision
    amount_paid_minor: int | None


@dataclass(frozen=True)
class PlanFees:
    status: str
    plans: int
    penalty_fees_minor: int
    waived_minor: int
    reinstated_minor: int


@dataclass(frozen=True)
class SegmentTreatments:
    """The treatment decisions of one risk segment on one date, counted and summed."""

    segment: str
    treatment: str
    accounts: int
    limit_none: int
    limit_freeze: int
    limit_cut: int
    waivers: int
    max_waiver_share_bp: int
    extensions: int
    max_extension_days: int
    min_penalty_rate_daily: str
    max_penalty_rate_daily: str
    overdue_balance_minor: int
    mean_pd: float | None


@dataclass(frozen=True)
class PlanCount:
    kind: str
    status: str
    plans: int
    principal_minor: int


def _dated(sql: str) -> TextualSelect:
    """``sql`` whose single result column ``day`` is a date (ISO text on SQLite)."""
    return text(sql).columns(day=Date)


def latest_treatment_date(conn: Connection, on_or_before: dt.date | None = None) -> dt.date | None:
    """The latest date with treatment decisions (on or before ``on_or_before`` if given)."""
    where = "" if on_or_before is None else " WHERE as_of <= :d"
    day: dt.date | None = conn.execute(
        _dated(f"SELECT MAX(as_of) AS day FROM overdue_treatments{where}"), {"d": on_or_before}
    ).scalar()
    return day


def treatment_policy_versions(conn: Connection, day: dt.date) -> list[str]:
    """The policy versions the treatment decisions of ``day`` were made under, sorted."""
    rows = conn.execute(
        text("SELECT DISTINCT policy_version FROM overdue_treatments WHERE as_of = :d"),
        {"d": day},
    )
    return sorted(str(v) for (v,) in rows)


# Each account's treatment postings of one day (``overdue.treatment_postings``): what the
# ledger holds of a decision's charges and of its own waiver.
_POSTED_CHARGES = (
    "SELECT account_id,"
    " SUM(CASE WHEN kind = 'penalty_interest' THEN amount_minor ELSE 0 END) AS interest,"
    " SUM(CASE WHEN kind = 'late_fee' THEN amount_minor ELSE 0 END) AS late,"
    " -SUM(CASE WHEN kind = 'fee_waiver' THEN amount_minor ELSE 0 END) AS waived"
    " FROM ledger_postings WHERE effective_on = :d AND source = 'decision'"
    " AND substr(idempotency_key, 1, 6) = 'treat:' GROUP BY account_id"
)


def stored_charges_by_segment(conn: Connection, day: dt.date) -> list[SegmentCharges]:
    """The charges and waivers of the treatment decisions of ``day``, by segment: as the ledger
    holds them (the treatment posts them), else as stored with the decision (one made before
    the treatment posted, whose charges no plan offer has posted either)."""
    rows = conn.execute(
        text(
            "SELECT t.risk_segment, COUNT(*),"
            " SUM(COALESCE(x.interest, t.penalty_interest_minor)),"
            " SUM(COALESCE(x.late, t.late_fee_minor)),"
            " SUM(COALESCE(x.waived, t.fee_waived_minor))"
            f" FROM overdue_treatments t LEFT JOIN ({_POSTED_CHARGES}) x"
            " ON x.account_id = t.account_id"
            " WHERE t.as_of = :d AND t.penalty_interest_minor IS NOT NULL"
            " AND t.late_fee_minor IS NOT NULL GROUP BY t.risk_segment"
        ),
        {"d": day},
    )
    return [
        SegmentCharges(str(segment), int(n), int(interest), int(late), int(waived))
        for segment, n, interest, late, waived in rows
    ]


def uncharged_treatments(conn: Connection, day: dt.date) -> list[UnchargedTreatment]:
    """The treatment decisions of ``day`` stored without their charges, by account, with the
    minimum payment and payment of each account's latest statement on or before ``day``."""
    rows = conn.execute(
        text(
            "SELECT t.risk_segment, t.days_past_due, t.overdue_balance_minor,"
            " t.fee_waiver_share_bp, s.minimum_due_minor, s.amount_paid_minor"
            " FROM overdue_treatments t LEFT JOIN statements s"
            " ON s.account_id = t.account_id AND s.cycle_date = ("
            "   SELECT MAX(s2.cycle_date) FROM statements s2"
            "   WHERE s2.account_id = t.account_id AND s2.cycle_date <= t.as_of)"
            " WHERE t.as_of = :d AND (t.penalty_interest_minor IS NULL"
            " OR t.late_fee_minor IS NULL) ORDER BY t.account_id"
        ),
        {"d": day},
    )
    return [
        UnchargedTreatment(
            segment=str(segment),
            days_past_due=int(dpd),
            overdue_balance_minor=int(balance),
            fee_waiver_share_bp=int(share_bp),
            minimum_due_minor=None if minimum is None else int(minimum),
            amount_paid_minor=None if paid is None else int(paid),
        )
        for segment, dpd, balance, share_bp, minimum, paid in rows
    ]


def plan_fees_by_status(conn: Connection) -> list[PlanFees]:
    """Every repayment plan's penalty fees, waivers and reinstated fees, summed by status."""
    rows = conn.execute(
        text(
            "SELECT status, COUNT(*), COALESCE(SUM(penalty_fees_minor), 0),"
            " COALESCE(SUM(waived_minor), 0), COALESCE(SUM(reinstated_minor), 0)"
            " FROM repayment_plans GROUP BY status"
        )
    )
    return [
        PlanFees(str(status), int(n), int(fees), int(waived), int(reinstated))
        for status, n, fees, waived, reinstated in rows
    ]


def latest_snapshot_date(conn: Connection, on_or_before: dt.date | None = None) -> dt.date | None:
    """The latest aging snapshot's date (on or before ``on_or_before`` if given)."""
    where = "" if on_or_before is None else " WHERE snapshot_date <= :d"
    day: dt.date | None = conn.execute(
        _dated(f"SELECT MAX(snapshot_date) AS day FROM aging_snapshots{where}"),
        {"d": on_or_before},
    ).scalar()
    return day


def cycle_snapshot_dates(conn: Connection, up_to: dt.date | None = None) -> list[dt.date]:
    """The dates of the cycle (not daily) aging snapshots, oldest first."""
    where = "" if up_to is None else " AND snapshot_date <= :d"
    rows = conn.execute(
        _dated(
            "SELECT DISTINCT snapshot_date AS day FROM aging_snapshots"
            f" WHERE kind = 'cycle'{where} ORDER BY snapshot_date"
        ),
        {"d": up_to},
    )
    return [day for (day,) in rows]


def bucket_totals(conn: Connection, day: dt.date) -> dict[str, BucketTotals]:
    """Accounts, balances and overdue balances per bucket in the snapshot of ``day``."""
    rows = conn.execute(
        text(
            "SELECT bucket, COUNT(*), COALESCE(SUM(balance_minor), 0),"
            " COALESCE(SUM(overdue_balance_minor), 0) FROM aging_snapshots"
            " WHERE snapshot_date = :d GROUP BY bucket"
        ),
        {"d": day},
    )
    return {str(b): BucketTotals(int(n), int(bal), int(over)) for b, n, bal, over in rows}


TRANSITION_SCHEMA: dict[str, Any] = {
    "from_bucket": pl.String(),
    "to_bucket": pl.String(),
    "accounts": pl.Int64(),
    "balance_minor": pl.Int64(),
}


def bucket_transitions(conn: Connection, earlier: dt.date, later: dt.date) -> pl.DataFrame:
    """Accounts (and their balances in the earlier snapshot) by the bucket they were in on
    ``earlier`` and the one they are in on ``later``; ``exited`` when the later snapshot does
    not hold the account. Accounts new in the later snapshot are not counted."""
    rows = conn.execute(
        text(
            "SELECT p.bucket, COALESCE(c.bucket, :exited), COUNT(*),"
            " COALESCE(SUM(p.balance_minor), 0) FROM aging_snapshots p"
            " LEFT JOIN aging_snapshots c"
            " ON c.snapshot_date = :later AND c.account_id = p.account_id"
            " WHERE p.snapshot_date = :earlier"
            " GROUP BY p.bucket, COALESCE(c.bucket, :exited)"
        ),
        {"earlier": earlier, "later": later, "exited": EXITED},
    )
    return pl.DataFrame(
        [(str(a), str(b), int(n), int(bal)) for a, b, n, bal in rows],
        schema=TRANSITION_SCHEMA,
        orient="row",
    )


def treatments_by_segment(conn: Connection, day: dt.date) -> list[SegmentTreatments]:
    """The treatment decisions of ``day`` per risk segment: limit actions, waivers, extensions,
    penalty rates, overdue balance and mean PD (of the decisions with one)."""
    rows = conn.execute(
        text(
            "SELECT risk_segment, MIN(treatment), COUNT(*),"
            " SUM(CASE WHEN limit_action = 'none' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN limit_action = 'freeze' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN limit_action = 'cut' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN fee_waiver_share_bp > 0 THEN 1 ELSE 0 END),"
            " MAX(fee_waiver_share_bp),"
            " SUM(CASE WHEN due_date_extension_days > 0 THEN 1 ELSE 0 END),"
            " MAX(due_date_extension_days), MIN(penalty_rate_daily), MAX(penalty_rate_daily),"
            " COALESCE(SUM(overdue_balance_minor), 0), AVG(pd), COUNT(pd)"
            " FROM overdue_treatments WHERE as_of = :d GROUP BY risk_segment"
            " ORDER BY risk_segment"
        ),
        {"d": day},
    )
    return [
        SegmentTreatments(
            segment=str(r[0]),
            treatment=str(r[1]),
            accounts=int(r[2]),
            limit_none=int(r[3]),
            limit_freeze=int(r[4]),
            limit_cut=int(r[5]),
            waivers=int(r[6]),
            max_waiver_share_bp=int(r[7]),
            extensions=int(r[8]),
            max_extension_days=int(r[9]),
            min_penalty_rate_daily=str(r[10]),
            max_penalty_rate_daily=str(r[11]),
            overdue_balance_minor=int(r[12]),
            mean_pd=float(r[13]) if r[14] else None,
        )
        for r in rows
    ]


def plans_by_kind_and_status(conn: Connection) -> list[PlanCount]:
    """Repayment plans counted, and their principal summed, by kind and status."""
    rows = conn.execute(
        text(
            "SELECT kind, status, COUNT(*), COALESCE(SUM(principal_minor), 0)"
            " FROM repayment_plans GROUP BY kind, status"
        )
    )
    return [PlanCount(str(k), str(s), int(n), int(amount)) for k, s, n, amount in rows]
