"""The behaviour features of ONE account, from its statement rows, mostly in plain Python.

The same definitions as ``cardpilot.scoring.features`` (the cycle quantities of
``_cycle_columns``, the per-account aggregations of ``_aggregations`` and the account and
customer columns of ``_finish``), evaluated on a handful of rows: a Polars plan costs about a
millisecond to plan and run however small its frame, and one account's features take a few
dozen of them. The float sums and means alone are the plan's own expressions
(``features.summed_aggregations``), run once on the account's cycle rows: Polars adds floats in
an order of its own. The HTTP service's preview reads one account with it; the batch keeps the
vectorised plan. tests/scoring/test_account_features.py holds the two equal, value for value,
on generated histories (Hypothesis) and on 3,000 real accounts.

Nulls follow Polars: an aggregation skips them, a comparison with one is unknown (Kleene logic,
``fill_null(False)`` where the plan says so), ``max_horizontal`` ignores them.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from cardpilot.scoring.feature_dictionary import FEATURE_NAMES
from cardpilot.scoring.features import summed_aggregations

Row = Mapping[str, Any]
DEFAULT_WINDOW = 6
PAYMENT_RATIO_CAP = 2.0  # as scoring.features: paying twice the bill says no more than once


class DuplicateCycleError(ValueError):
    """Two statements of the account on one date: only the Polars plan orders those."""


def _ratio(num: float | int | None, den: float | int | None) -> float | None:
    if den is None or num is None or not den > 0:
        return None
    return float(num) / float(den)


def _both_true(a: bool | None, b: bool | None) -> bool | None:
    """Kleene ``a & b``: false when either is false, unknown when either is unknown."""
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _gt(a: Any, b: Any) -> bool | None:
    return None if a is None or b is None else a > b


def _cycle(row: Row, prev: int | None, account_limit: int | None) -> dict[str, Any]:
    """``features._cycle_columns`` of one statement row."""
    limit = row["credit_limit_minor"]
    limit = account_limit if limit is None else limit
    paid = row["amount_paid_minor"]
    balance = row["statement_balance_minor"]
    purchases, cash = row["purchases_minor"], row["cash_advances_minor"]
    pay_ratio = _ratio(paid, prev)
    if pay_ratio is not None:
        pay_ratio = min(max(pay_ratio, 0.0), PAYMENT_RATIO_CAP)
    owed = _gt(prev, 0)
    dpd = row["days_past_due"] or 0
    if purchases is not None:
        spend = purchases + (cash or 0)
    elif balance is None or prev is None or paid is None:
        spend = 0  # max_horizontal(null, 0)
    else:
        spend = max(balance - prev + paid, 0)
    return {
        "limit": limit,
        "util": _ratio(balance, limit),
        "pay_ratio": pay_ratio,
        "revolving": bool(_both_true(owed, None if paid is None or prev is None else paid < prev)),
        "paid_full": bool(_both_true(owed, None if paid is None or prev is None else paid >= prev)),
        "inactive": _both_true(
            None if balance is None else balance <= 0, None if paid is None else paid == 0
        ),
        "missed": bool(_both_true(owed, None if paid is None else paid == 0)),
        "spend": spend,
        "overdue": dpd > 0,
        "months_overdue": (dpd + 29) // 30,
        "status": row["repayment_status"],
        "balance": balance,
        "paid": paid,
        "prev": prev,
        "cash": cash,
        "purchases": purchases,
    }


def window_cycles(
    statements: Sequence[Row], account_limit: int | None, as_of: dt.date, window: int
) -> list[dict[str, Any]]:
    """The cycle rows of the window, latest first (index ``k``); each with the previous
    cycle's balance, read before the window is cut (``features._cycle_plan``)."""
    rows = sorted(
        (r for r in statements if r["cycle_date"] <= as_of), key=lambda r: r["cycle_date"]
    )
    for a, b in itertools.pairwise(rows):
        if a["cycle_date"] == b["cycle_date"]:
            raise DuplicateCycleError(f"two statements on {a['cycle_date']}")
    cycles = []
    prev: int | None = None
    for r in rows:
        cycles.append(_cycle(r, prev, account_limit))
        prev = r["statement_balance_minor"]
    return cycles[::-1][:window]


def _present(values: Sequence[Any]) -> list[Any]:
    return [v for v in values if v is not None]


# The float sums and means are the Polars plan's own expressions, run on the account's few
# cycle rows: Polars' float reductions add in an order of their own, and these must equal the
# batch's to the last bit (a score bin's edge can fall between two neighbouring floats).
_SUMMED_INPUTS = {
    "k": pl.Int32(),
    "_util": pl.Float64(),
    "_pay_ratio": pl.Float64(),
    "amount_paid_minor": pl.Int64(),
    "_spend": pl.Int64(),
}
# Built once, at import: requests on many threads read it.
_SUMMED: tuple[pl.Expr, ...] = tuple(e.alias(n) for n, e in summed_aggregations().items())


def _summed(cycles: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    oldest_first = cycles[::-1]  # the plan's row order: by cycle date
    frame = pl.DataFrame(
        {
            "k": list(range(len(cycles)))[::-1],
            "_util": [c["util"] for c in oldest_first],
            "_pay_ratio": [c["pay_ratio"] for c in oldest_first],
            "amount_paid_minor": [c["paid"] for c in oldest_first],
            "_spend": [c["spend"] for c in oldest_first],
        },
        schema=_SUMMED_INPUTS,
    )
    # Grouped, as the plan groups the cycle rows by account: Polars' grouped reductions may add
    # in another order than its plain ones (with more than one thread they do).
    grouped = (
        frame.lazy()
        .with_columns(_idx=pl.lit(0, pl.Int64))
        .group_by("_idx", maintain_order=True)
        .agg(_SUMMED)
    )
    return grouped.collect().row(0, named=True)


def _at(cycles: Sequence[Mapping[str, Any]], k: int, name: str) -> Any:
    return cycles[k][name] if k < len(cycles) else None


def _max(values: Sequence[Any]) -> Any:
    present = _present(values)
    return max(present) if present else None


def _min(values: Sequence[Any]) -> Any:
    present = _present(values)
    return min(present) if present else None


def _pattern(cycles: Sequence[Mapping[str, Any]]) -> str | None:
    statuses = [c["status"] for c in cycles[:3]]
    if any(s is None for s in statuses):
        return None
    return "|".join(str(min(max(s, -2), 3)) for s in statuses)


def _overdue_counts(cycles: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The overdue counts of ``features._aggregations`` over the cycle rows (latest first)."""
    mo, overdue = [c["months_overdue"] for c in cycles], [c["overdue"] for c in cycles]
    not_overdue = [k for k, o in enumerate(overdue) if not o]
    return {
        "months_overdue_latest": mo[0],
        "max_months_overdue_6m": _max(mo),
        "overdue_count_3m": sum(1 for f in overdue[:3] if f),
        "overdue_count_6m": sum(1 for f in overdue if f),
        "consecutive_overdue_months": min(not_overdue) if not_overdue else len(cycles),
    }


def overdue_counts(
    statements: Sequence[Row],
    account: Row,
    as_of: dt.date,
    *,
    window: int = DEFAULT_WINDOW,
) -> dict[str, Any] | None:
    """The overdue counts of ``account_features`` alone (``months_overdue_latest``,
    ``max_months_overdue_6m``, ``overdue_count_3m``, ``overdue_count_6m``,
    ``consecutive_overdue_months``), without the float reductions; None without a statement.
    Raises ``DuplicateCycleError`` on two statements of one date."""
    cycles = window_cycles(statements, account["credit_limit_minor"], as_of, window)
    return _overdue_counts(cycles) if cycles else None


def _aggregate(cycles: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``features._aggregations`` over one account's cycle rows (latest first)."""

    def col(name: str, last: int | None = None) -> list[Any]:
        return [c[name] for c in cycles[:last]]

    def count(flags: Sequence[bool | None]) -> int:
        return sum(1 for f in flags if f)

    util, ratio, mo, overdue = col("util"), col("pay_ratio"), col("months_overdue"), col("overdue")
    statuses, cash = col("status"), col("cash")
    latest = cycles[0]
    was_overdue = [k for k, o in enumerate(overdue) if o]
    unpaid = (
        0
        if latest["prev"] is None or latest["paid"] is None
        else max(latest["prev"] - latest["paid"], 0)
    )
    util_prev = _at(cycles, 1, "util")
    return (
        _summed(cycles)
        | _overdue_counts(cycles)
        | {
            "_limit_latest": latest["limit"],
            "history_months": len(cycles),
            "utilisation_latest": latest["util"],
            "utilisation_max_6m": _max(util),
            "payment_ratio_latest": latest["pay_ratio"],
            "payment_ratio_previous": _at(cycles, 1, "pay_ratio"),
            "payment_ratio_min_3m": _min(ratio[:3]),
            "revolving_months_6m": count(col("revolving")),
            "paid_in_full_months_6m": count(col("paid_full")),
            "inactive_months_6m": count(col("inactive")),
            "repayment_status_latest": latest["status"],
            "repayment_status_previous": _at(cycles, 1, "status"),
            "repayment_pattern_3m": _pattern(cycles),
            "status_paid_in_full_months_6m": count([s == -1 for s in _present(statuses)]),
            "status_no_use_months_6m": count([s == -2 for s in _present(statuses)]),
            "missed_payment_months_6m": count(col("missed")),
            "months_overdue_previous": _at(cycles, 1, "months_overdue"),
            "max_months_overdue_3m": _max(mo[:3]),
            "months_since_last_overdue": min(was_overdue) if was_overdue else None,
            "_balance_latest": latest["balance"],
            "_balance_oldest": cycles[-1]["balance"],
            "_paid_latest": latest["paid"],
            "_cash": sum(_present(cash)),
            "_cash_n": len(_present(cash)),
            "_purch": sum(_present(col("purchases"))),
            "overdue_months_total_6m": sum(mo),
            "payment_ratio_min_6m": _min(ratio),
            "status_revolving_months_6m": count([s == 0 for s in _present(statuses)]),
            "unpaid_to_limit_latest": _ratio(unpaid, latest["limit"]),
            "utilisation_previous": util_prev,
            "utilisation_change_1m": None
            if latest["util"] is None or util_prev is None
            else latest["util"] - util_prev,
        }
    )


def _round_half_even(value: float | None) -> int | None:
    return None if value is None else round(value)


def account_features(
    statements: Sequence[Row],
    account: Row,
    customer: Row,
    as_of: dt.date,
    *,
    window: int = DEFAULT_WINDOW,
) -> dict[str, Any] | None:
    """The account's row of ``behaviour_features`` (columns ``FEATURE_NAMES``), or None when
    it has no statement on or before ``as_of`` (the plan then gives it no row).

    ``statements``: its statement rows (``cycle_date`` a date, the money in minor units);
    ``account``: ``account_id``, ``credit_limit_minor``, ``open_date``, ``customer_id``;
    ``customer``: ``birth_year``, ``education``, ``annual_income_minor`` (empty: unknown).
    Raises ``DuplicateCycleError`` on two statements of one date."""
    cycles = window_cycles(statements, account["credit_limit_minor"], as_of, window)
    if not cycles:
        return None
    agg = _aggregate(cycles)
    limit = account["credit_limit_minor"]
    limit = agg["_limit_latest"] if limit is None else limit
    balance, paid_avg, spend_avg = agg["_balance_latest"], agg["_paid_avg"], agg["_spend_avg"]
    cash, purch = agg["_cash"], agg["_purch"]
    spend_total = purch + cash
    opened = account.get("open_date")
    birth = customer.get("birth_year")
    limit_known = limit is not None and limit > 0
    out = {
        **{k: v for k, v in agg.items() if not k.startswith("_")},
        "account_id": account["account_id"],
        "credit_limit_minor": limit,
        "bill_growth": _ratio(
            None
            if balance is None or agg["_balance_oldest"] is None
            else balance - agg["_balance_oldest"],
            limit,
        ),
        "payment_to_limit_latest": _ratio(agg["_paid_latest"], limit),
        "payment_to_limit_avg_6m": paid_avg / limit
        if limit_known and paid_avg is not None
        else None,
        "paid_latest_minor": agg["_paid_latest"],
        "paid_avg_6m_minor": _round_half_even(paid_avg),
        "balance_latest_minor": balance,
        "available_credit_minor": None if limit is None or balance is None else limit - balance,
        "spend_avg_6m_minor": _round_half_even(spend_avg),
        "spend_to_limit_avg_6m": spend_avg / limit
        if limit_known and spend_avg is not None
        else None,
        "cash_advance_share": cash / spend_total
        if agg["_cash_n"] > 0 and spend_total > 0
        else None,
        "months_on_book": None
        if opened is None
        else (as_of.year - opened.year) * 12 + (as_of.month - opened.month),
        "age": None if birth is None else as_of.year - int(birth),
        "education": customer.get("education"),
        "annual_income_minor": customer.get("annual_income_minor"),
    }
    return {name: out[name] for name in FEATURE_NAMES}
