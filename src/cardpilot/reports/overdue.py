"""The overdue report: one self-contained HTML page (and its figures as JSON).

Buckets (accounts and balances) on the report date; roll rates between the last two stored
cycle snapshots, and the transition matrix of every pair of consecutive cycle snapshots;
treatments by risk segment (limit actions, waivers, extensions, penalty rates); 和谐还款 plans
by kind and status with their kept and broken rates; fees charged and waived
(``reports.overdue_fees``). Figures come from what the store recorded (``aging_snapshots``,
``overdue_treatments``, ``repayment_plans``), not from a new run.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from cardpilot.domain.money import format_major
from cardpilot.overdue.aging import roll_summary, transition_rates
from cardpilot.overdue.schema import OverduePolicy
from cardpilot.reports.charts import in_order
from cardpilot.reports.formatting import ReportFormat, configured_locale, report_locale
from cardpilot.reports.overdue_fees import (
    FeeTotals,
    OverdueReportError,
    fee_totals,
    policy_for_store,
)
from cardpilot.reports.overdue_page import overdue_charts, overdue_page_context
from cardpilot.reports.page import render_page, write_page
from cardpilot.store.overdue_report_reads import (
    SegmentTreatments,
    bucket_totals,
    bucket_transitions,
    cycle_snapshot_dates,
    latest_snapshot_date,
    latest_treatment_date,
    plans_by_kind_and_status,
    treatments_by_segment,
)

__all__ = [
    "OverdueReportError",
    "fee_totals",
    "overdue_report_figures",
    "overdue_report_json",
    "policy_for_store",
    "write_overdue_report",
]

PLAN_KINDS = ("equal_principal", "amortising", "deferral", "personalised")
PLAN_STATUSES = ("offered", "accepted", "active", "kept", "broken", "declined")


def _rate(num: int, den: int) -> str | None:
    """A share as a 6-decimal string (``None`` when there is nothing to divide by)."""
    if den <= 0:
        return None
    return f"{Decimal(num) / Decimal(den):.6f}"


def _buckets(conn: Connection, policy: OverduePolicy, day: dt.date) -> list[dict[str, Any]]:
    totals = bucket_totals(conn, day)
    everyone = sum(t.accounts for t in totals.values())
    scale = policy.file.aging.scale().codes
    codes = in_order(list({*scale, *totals}), scale)  # buckets of another scale last
    rows = []
    for code in codes:
        t = totals.get(code)
        accounts = 0 if t is None else t.accounts
        rows.append(
            {
                "bucket": code,
                "accounts": accounts,
                "share": _rate(accounts, everyone),
                "balance_minor": 0 if t is None else t.balance_minor,
                "overdue_balance_minor": 0 if t is None else t.overdue_balance_minor,
            }
        )
    return rows


def _roll_history(conn: Connection, cycles: list[dt.date]) -> list[dict[str, Any]]:
    """Every pair of consecutive cycle snapshots with its transitions and their rates."""
    history = []
    for earlier, later in itertools.pairwise(cycles):
        rates = transition_rates(bucket_transitions(conn, earlier, later))
        history.append(
            {
                "from": earlier.isoformat(),
                "to": later.isoformat(),
                "rates": rates,
            }
        )
    return history


def _segments(conn: Connection, policy: OverduePolicy, day: dt.date) -> list[dict[str, Any]]:
    by_code = {s.segment: s for s in treatments_by_segment(conn, day)}
    order = in_order(list(by_code), [s.code for s in policy.file.segments])
    return [_segment_row(by_code[code]) for code in order]


def _segment_row(s: SegmentTreatments) -> dict[str, Any]:
    rate_lo, rate_hi = Decimal(s.min_penalty_rate_daily), Decimal(s.max_penalty_rate_daily)
    return {
        "segment": s.segment,
        "treatment": s.treatment,
        "accounts": s.accounts,
        "limit_none": s.limit_none,
        "limit_freeze": s.limit_freeze,
        "limit_cut": s.limit_cut,
        "waivers": s.waivers,
        "waiver_share_bp": s.max_waiver_share_bp,
        "extensions": s.extensions,
        "extension_days": s.max_extension_days,
        "penalty_rate_daily": str(rate_lo.normalize())
        if rate_lo == rate_hi
        else f"{rate_lo.normalize()}–{rate_hi.normalize()}",
        "overdue_balance_minor": s.overdue_balance_minor,
        "mean_pd": None if s.mean_pd is None else f"{s.mean_pd:.4f}",
    }


def _plans(conn: Connection) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    principal: dict[str, int] = {}
    for p in plans_by_kind_and_status(conn):
        counts.setdefault(p.kind, dict.fromkeys(PLAN_STATUSES, 0))[p.status] = p.plans
        principal[p.kind] = principal.get(p.kind, 0) + p.principal_minor

    def row(kind: str, c: dict[str, int], amount: int) -> dict[str, Any]:
        ended = c["kept"] + c["broken"]
        return {
            "kind": kind,
            "plans": sum(c.values()),
            **c,
            "principal_minor": amount,
            "kept_rate": _rate(c["kept"], ended),
            "broken_rate": _rate(c["broken"], ended),
            "acceptance_rate": _rate(
                c["accepted"] + c["active"] + ended, sum(c.values()) - c["offered"]
            ),
        }

    kinds = in_order(list(counts), PLAN_KINDS)
    total = {s: sum(counts[k][s] for k in kinds) for s in PLAN_STATUSES}
    return {
        "by_kind": [row(k, counts[k], principal[k]) for k in kinds],
        "total": row("all", total, sum(principal.values())),
    }


def overdue_report_figures(
    db: Engine, policy: OverduePolicy, as_of: dt.date | None = None
) -> dict[str, Any]:
    """The report's figures as plain values, amounts in minor units (the JSON and HTML are
    made from this). ``as_of`` defaults to the latest treatment date (else snapshot date)."""
    scale = policy.file.aging.scale()
    with db.connect() as conn:
        day = latest_treatment_date(conn, as_of)
        snap_day = latest_snapshot_date(conn, as_of or day)
        day = day or as_of or snap_day
        buckets = [] if snap_day is None else _buckets(conn, policy, snap_day)
        cycles = [] if snap_day is None else cycle_snapshot_dates(conn, snap_day)
        history = _roll_history(conn, cycles)
        segments = [] if day is None else _segments(conn, policy, day)
        plans = _plans(conn)
    rolls: dict[str, Any] | None = None
    if history:
        last = history[-1]
        rolls = {"from": last["from"], "to": last["to"], **roll_summary(last["rates"], scale)}
    fees = fee_totals(db, policy, day) if day is not None else FeeTotals(None, policy.file.currency)
    return {
        "as_of": None if day is None else day.isoformat(),
        "snapshot_date": None if snap_day is None else snap_day.isoformat(),
        "policy_version": policy.version,
        "currency": policy.file.currency,
        "buckets": buckets,
        "roll_rates": rolls,
        "roll_history": [_history_json(h) for h in history],
        "segments": segments,
        "plans": plans,
        "fees": fees,
    }


def _history_json(pair: dict[str, Any]) -> dict[str, Any]:
    return {
        "from": pair["from"],
        "to": pair["to"],
        "transitions": [
            {
                "from": r["from_bucket"],
                "to": r["to_bucket"],
                "accounts": r["accounts"],
                "from_accounts": r["from_accounts"],
                "rate": f"{r['rate']:.6f}",
                "balance_rate": None if r["balance_rate"] is None else f"{r['balance_rate']:.6f}",
            }
            for r in pair["rates"].iter_rows(named=True)
        ],
    }


def overdue_report_json(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures with amounts as decimal strings in major units (yuan for CNY)."""

    def major(obj: Any) -> Any:
        if isinstance(obj, FeeTotals):
            return obj.as_json()
        if isinstance(obj, dict):
            return {
                (k.removesuffix("_minor") if k.endswith("_minor") else k): (
                    format_major(v) if k.endswith("_minor") and isinstance(v, int) else major(v)
                )
                for k, v in obj.items()
            }
        if isinstance(obj, list):
            return [major(v) for v in obj]
        return obj

    return {"report": "overdue", **major(figures)}


def write_overdue_report(
    db: Engine,
    policy: OverduePolicy,
    out: Path,
    *,
    as_of: dt.date | None = None,
    locale: str | None = None,
) -> dict[str, Any]:
    """Render the overdue report to ``out`` (one self-contained HTML file, its money and
    figures written for ``locale``: zh-CN by default, en); returns the figures as JSON
    (amounts as decimal strings) with the report's path."""
    figures = overdue_report_figures(db, policy, as_of)
    fmt = ReportFormat(report_locale(locale or configured_locale()), policy.file.currency)
    context = overdue_page_context(figures, policy, fmt, PLAN_STATUSES)
    charts = overdue_charts(figures, policy, fmt)
    write_page(render_page("overdue.html.j2", context, charts, fmt), out)
    return {**overdue_report_json(figures), "path": str(out)}
