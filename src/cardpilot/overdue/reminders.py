"""Reminders and education (issue #7 item 6): which messages fall due on a date. Pure.

``reminder_input(statements, as_of, policy, payments=…, treatments=…, opt_ins=…)`` builds one
row per account: its latest statement on or before ``as_of`` (due date, balance, minimum due,
what was paid towards it since the cycle date), days past due and bucket, the risk segment of
its latest treatment, and whether its customer opted in to education messages.
``plan_reminders(table, as_of, policy)`` applies the policy's ``reminders`` rules to it (column
expressions only: one Polars plan whatever the portfolio size) and gives one row per message
due that day, with the deterministic ``decision_ref`` the outbox key is derived from, so a
re-run on the same day queues nothing twice.

``minimum_payment_cost(balance, policy)`` is the exact illustration an education message
quotes: paying only the minimum, with no new spending, how many months until the balance is
repaid, the total interest and the total paid (integer fen; interest half-up to the fen once
per cycle, on ``revolving.cycle_days`` days at the contract's daily rate).
``minimum_payment_costs`` is the same computation vectorised over many balances (NumPy, exact
integer arithmetic), checked against the scalar one by a property test.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from cardpilot.overdue.aging import bucket_expr
from cardpilot.overdue.schema import (
    EducationRule,
    MinimumPayment,
    OverduePolicy,
    ReminderRule,
    RemindersPolicy,
    Revolving,
)

DECISION_REF_CHARS = 64  # notify_outbox.decision_ref

INPUT_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "currency": pl.String(),
    "cycle_date": pl.Date(),
    "due_date": pl.Date(),
    "statement_balance_minor": pl.Int64(),
    "minimum_due_minor": pl.Int64(),
    "paid_since_cycle_minor": pl.Int64(),
    "unpaid_minimum_minor": pl.Int64(),
    "days_past_due": pl.Int32(),
    "bucket": pl.String(),
    "risk_segment": pl.String(),
    "education_opt_in": pl.Boolean(),
}

PLAN_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "as_of": pl.Date(),
    "rule": pl.String(),
    "trigger": pl.String(),
    "topic": pl.String(),
    "message_type": pl.String(),
    "channels": pl.List(pl.String()),
    "priority": pl.Int32(),
    "anchor_date": pl.Date(),
    "decision_ref": pl.String(),
    "currency": pl.String(),
    "cycle_date": pl.Date(),
    "due_date": pl.Date(),
    "statement_balance_minor": pl.Int64(),
    "minimum_due_minor": pl.Int64(),
    "unpaid_minimum_minor": pl.Int64(),
    "days_past_due": pl.Int32(),
    "bucket": pl.String(),
    "risk_segment": pl.String(),
    "policy_version": pl.String(),
}


class RemindersError(ValueError):
    """The reminders cannot be planned as asked (no ``reminders`` section, missing columns)."""


def reminders_of(policy: OverduePolicy) -> RemindersPolicy:
    if policy.file.reminders is None:
        raise RemindersError(
            f"overdue policy {policy.version} has no 'reminders' section; add one (see "
            "policies/default/overdue.yaml and docs/overdue.md 'Reminders and education')"
        )
    return policy.file.reminders


# --------------------------------------------------------------------- exact arithmetic


def _ratio(value: Decimal) -> tuple[int, int]:
    num, den = value.as_integer_ratio()
    return num, den


def _half_up(num: int, den: int) -> int:
    """``num / den`` rounded half-up to an integer (both non-negative)."""
    return (2 * num + den) // (2 * den)


def minimum_due_of(balance_minor: int, terms: MinimumPayment, charges_minor: int = 0) -> int:
    """The contract minimum on a balance: share of the principal (half-up to the fen), plus the
    cycle's interest and fees when the contract says so, at least the floor, at most the
    whole balance. ``charges_minor`` is the interest and fees inside ``balance_minor``."""
    if balance_minor <= 0:
        return 0
    num, den = _ratio(terms.share_of_principal / 100)
    if terms.includes_interest_and_fees:
        principal = balance_minor - charges_minor
        due = _half_up(principal * num, den) + charges_minor
    else:
        due = _half_up(balance_minor * num, den)
    return min(balance_minor, max(due, terms.floor_yuan))


@dataclass(frozen=True, slots=True)
class MinimumPaymentCost:
    """Paying only the minimum on ``balance_minor`` with no new spending (fen)."""

    balance_minor: int
    first_minimum_minor: int
    months: int | None  # None: not repaid within ``revolving.max_months``
    total_interest_minor: int
    total_paid_minor: int

    @property
    def repaid(self) -> bool:
        return self.months is not None


def minimum_payment_cost(
    balance_minor: int, terms: MinimumPayment, revolving: Revolving
) -> MinimumPaymentCost:
    """Month by month: pay the minimum, then the rest accrues ``daily_rate × cycle_days``
    interest (half-up to the fen, once per cycle) until the next statement. Exact integers;
    total paid = balance + total interest whenever the balance is repaid."""
    if balance_minor < 0:
        raise ValueError("balance must not be negative")
    rate_num, rate_den = _ratio(revolving.daily_rate)
    balance, charges, interest_total, paid_total = balance_minor, 0, 0, 0
    first = minimum_due_of(balance, terms, charges)
    for month in range(1, revolving.max_months + 1):
        if balance == 0:
            return MinimumPaymentCost(balance_minor, first, month - 1, interest_total, paid_total)
        pay = minimum_due_of(balance, terms, charges)
        paid_total += pay
        balance -= pay
        charges = _half_up(balance * rate_num * revolving.cycle_days, rate_den)
        interest_total += charges
        balance += charges
    if balance == 0:
        months = revolving.max_months
        return MinimumPaymentCost(balance_minor, first, months, interest_total, paid_total)
    return MinimumPaymentCost(balance_minor, first, None, interest_total, paid_total)


IntArray = npt.NDArray[np.int64]


def _half_up_arr(num: IntArray, den: int) -> IntArray:
    return (2 * num + den) // (2 * den)


def minimum_payment_costs(
    balances_minor: IntArray | list[int], terms: MinimumPayment, revolving: Revolving
) -> dict[str, IntArray]:
    """``minimum_payment_cost`` for many balances at once (int64 NumPy, exact; balances up to
    about 10^12 fen). Returns arrays ``first_minimum_minor``, ``months`` (-1: not repaid
    within ``max_months``), ``total_interest_minor``, ``total_paid_minor``."""
    balance = np.asarray(balances_minor, dtype=np.int64).copy()
    if (balance < 0).any():
        raise ValueError("balances must not be negative")
    rate_num, rate_den = _ratio(revolving.daily_rate)
    share_num, share_den = _ratio(terms.share_of_principal / 100)
    floor = terms.floor_yuan
    charges = np.zeros_like(balance)
    interest = np.zeros_like(balance)
    paid = np.zeros_like(balance)
    months = np.full(balance.shape, -1, dtype=np.int64)
    months[balance == 0] = 0

    def minimum(b: IntArray, c: IntArray) -> IntArray:
        if terms.includes_interest_and_fees:
            due = _half_up_arr((b - c) * share_num, share_den) + c
        else:
            due = _half_up_arr(b * share_num, share_den)
        return np.where(b > 0, np.minimum(b, np.maximum(due, floor)), 0)

    first = minimum(balance, charges)
    open_ = balance > 0
    for month in range(1, revolving.max_months + 1):
        if not open_.any():
            break
        pay = np.where(open_, minimum(balance, charges), 0)
        paid += pay
        balance -= pay
        charges = np.where(
            open_, _half_up_arr(balance * rate_num * revolving.cycle_days, rate_den), 0
        )
        interest += charges
        balance += charges
        done = open_ & (balance == 0)
        months[done] = month
        open_ &= ~done
    return {
        "first_minimum_minor": first,
        "months": months,
        "total_interest_minor": interest,
        "total_paid_minor": paid,
    }


# --------------------------------------------------------------------------- the input


def _empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def reminder_input(
    statements: pl.DataFrame,
    accounts: pl.DataFrame,
    as_of: dt.date,
    policy: OverduePolicy,
    *,
    payments: pl.DataFrame | None = None,
    treatments: pl.DataFrame | None = None,
    opt_ins: pl.DataFrame | None = None,
    payments_through: dt.date | None = None,
) -> pl.DataFrame:
    """One row per account with a statement on or before ``as_of`` (``INPUT_SCHEMA``).

    ``statements``: the statement frame (docs/CONTRACTS.md) with ``due_date``;
    ``accounts``: ``account_id, customer_id, currency``;
    ``payments``: ``account_id, paid_on (date, Asia/Shanghai), amount_minor``; payments after
    the latest cycle date up to ``as_of`` count towards its minimum (none given: nothing paid);
    ``treatments``: ``account_id, as_of, risk_segment``, the latest on or before ``as_of``
    gives the segment; ``opt_ins``: ``customer_id`` of the customers opted in to education.

    A statement without a minimum due gets the contract's (``reminders.minimum_payment``).
    Days past due: the aging's (the statements' own), or the days since the due date when its
    minimum is still unpaid, whichever is larger; the bucket follows from it.
    ``payments_through``: the last day the store's payment data reaches (None: up to
    ``as_of``); a minimum whose due date lies beyond it is not known to be unpaid, so it adds
    no days past due (as the aging has it, ``overdue.aging``).
    """
    terms = reminders_of(policy).minimum_payment
    latest = _latest_cycles(statements, policy, as_of)
    share_num, share_den = _ratio(terms.share_of_principal / 100)
    balance = pl.col("statement_balance_minor")
    # No interest split is known on a statement without a minimum: the share of the balance.
    contract_minimum = (
        pl.when(balance <= 0)
        .then(0)
        .otherwise(
            pl.min_horizontal(
                balance,
                pl.max_horizontal(
                    (2 * balance * share_num + share_den) // (2 * share_den),
                    pl.lit(terms.floor_yuan, pl.Int64),
                ),
            )
        )
        .cast(pl.Int64)
    )
    opted = (
        opt_ins.select(pl.col("customer_id").cast(pl.String)).unique()
        if opt_ins is not None
        else _empty({"customer_id": pl.String()})
    ).with_columns(pl.lit(True).alias("education_opt_in"))
    scale = policy.file.aging.scale()
    unpaid = pl.col("unpaid_minimum_minor")
    since_due = (pl.lit(as_of) - pl.col("due_date")).dt.total_days().cast(pl.Int32)
    known = pl.lit(True) if payments_through is None else pl.col("due_date") <= payments_through
    live_dpd = pl.when((unpaid > 0) & (since_due > 0) & known).then(since_due).otherwise(0)
    return (
        latest.join(accounts.select("account_id", "customer_id", "currency"), on="account_id")
        .join(_paid_since_cycle(payments, latest, as_of), on="account_id", how="left")
        .join(_latest_segments(treatments, as_of), on="account_id", how="left")
        .join(opted, on="customer_id", how="left")
        .with_columns(
            pl.coalesce(pl.col("minimum_due_minor"), contract_minimum).alias("minimum_due_minor"),
            pl.col("paid_since_cycle_minor").fill_null(0),
            pl.col("education_opt_in").fill_null(False),
        )
        .with_columns(
            pl.max_horizontal(pl.col("minimum_due_minor") - pl.col("paid_since_cycle_minor"), 0)
            .cast(pl.Int64)
            .alias("unpaid_minimum_minor")
        )
        .with_columns(
            pl.max_horizontal(pl.col("aging_dpd"), live_dpd).cast(pl.Int32).alias("days_past_due")
        )
        .with_columns(bucket_expr(pl.col("days_past_due"), scale).alias("bucket"))
        .select([pl.col(c).cast(t) for c, t in INPUT_SCHEMA.items()])
    )


def _latest_cycles(statements: pl.DataFrame, policy: OverduePolicy, as_of: dt.date) -> pl.DataFrame:
    """The latest cycle of each account on or before ``as_of``, in one pass (one stable sort
    on the integer date, as the aging does); its days past due age as
    ``overdue.aging.age_accounts`` ages them (``aging_dpd``)."""
    return (
        statements.lazy()
        .filter(pl.col("cycle_date") <= as_of)
        .select(
            pl.col("account_id").cast(pl.String),
            pl.col("cycle_date").cast(pl.Date),
            pl.col("due_date").cast(pl.Date),
            pl.col("statement_balance_minor").cast(pl.Int64),
            pl.col("minimum_due_minor").cast(pl.Int64),
            pl.col("days_past_due").fill_null(0).cast(pl.Int32).alias("cycle_dpd"),
        )
        .sort("cycle_date", maintain_order=True)
        .group_by("account_id")
        .agg(pl.all().last())
        .with_columns(_aging_dpd(policy, as_of).alias("aging_dpd"))
        .collect()
    )


def _paid_since_cycle(
    payments: pl.DataFrame | None, latest: pl.DataFrame, as_of: dt.date
) -> pl.DataFrame:
    """``account_id, paid_since_cycle_minor``: payments after the latest cycle up to ``as_of``."""
    if payments is None or not payments.height:
        return _empty({"account_id": pl.String(), "paid_since_cycle_minor": pl.Int64()})
    return (
        payments.lazy()
        .join(latest.lazy().select("account_id", "cycle_date"), on="account_id")
        .filter((pl.col("paid_on") > pl.col("cycle_date")) & (pl.col("paid_on") <= as_of))
        .group_by("account_id")
        .agg(pl.col("amount_minor").sum().cast(pl.Int64).alias("paid_since_cycle_minor"))
        .collect()
    )


def _latest_segments(treatments: pl.DataFrame | None, as_of: dt.date) -> pl.DataFrame:
    """``account_id, risk_segment`` of each account's latest treatment on or before ``as_of``."""
    if treatments is None or not treatments.height:
        return _empty({"account_id": pl.String(), "risk_segment": pl.String()})
    return (
        treatments.lazy()
        .filter(pl.col("as_of") <= as_of)
        .sort("as_of")
        .group_by("account_id")
        .agg(pl.col("risk_segment").last())
        .collect()
    )


def _aging_dpd(policy: OverduePolicy, as_of: dt.date) -> pl.Expr:
    """Days past due on ``as_of`` from the latest cycle's, exactly as ``age_accounts`` has it
    (an overdue cycle keeps aging by calendar days when ``aging.age_between_cycles``)."""
    gap = (pl.lit(as_of) - pl.col("cycle_date")).dt.total_days().cast(pl.Int32)
    between = gap if policy.file.aging.age_between_cycles else pl.lit(0, pl.Int32)
    return (
        pl.when(pl.col("cycle_dpd") > 0)
        .then(pl.col("cycle_dpd") + between)
        .otherwise(pl.lit(0, pl.Int32))
        .cast(pl.Int32)
    )


# --------------------------------------------------------------------------- planning


def decision_ref(rule: str, anchor: dt.date, account_id: str) -> str:
    """The reminder's reference (its outbox key derives from it): rule, anchor date, account.

    Statement-anchored rules use the cycle date, so the same reminder is never queued twice for
    one statement; treatment-path steps use the day itself."""
    ref = f"reminder:{rule}:{anchor:%Y%m%d}:{account_id}"
    if len(ref) <= DECISION_REF_CHARS:
        return ref
    digest = hashlib.sha256(account_id.encode()).hexdigest()[:20]
    return f"reminder:{rule}:{anchor:%Y%m%d}:#{digest}"


def _rule_filter(
    rule: ReminderRule, as_of: dt.date, payments_through: dt.date | None = None
) -> tuple[pl.Expr, pl.Expr]:
    """(does the rule fire for the row, its anchor date).

    ``payments_through``: the last day the store's payment data reaches (None: up to
    ``as_of``). "First day overdue" says a payment was due and not made, so it fires only when
    the data reaches the due date; it and "before due" speak to an account not already past
    due on an earlier statement, so they never go to one that is (its wording would be
    wrong: the treatment path's rules speak to those).
    """
    unpaid = pl.col("unpaid_minimum_minor") > 0
    due = pl.col("due_date")
    dpd = pl.col("days_past_due")
    if rule.trigger == "before_due":
        days_to_due = (due - pl.lit(as_of)).dt.total_days()
        return unpaid & (days_to_due == rule.days) & (dpd == 0), pl.col("cycle_date")
    if rule.trigger == "first_day_overdue":
        since = (pl.lit(as_of) - due).dt.total_days()
        known = pl.lit(True) if payments_through is None else due <= pl.lit(payments_through)
        return unpaid & (since == 1) & (dpd == 1) & known, pl.col("cycle_date")
    start = rule.from_dpd or 1
    fires = dpd >= start
    fires = fires & (((dpd - start) % rule.every_days == 0) if rule.every_days else (dpd == start))
    if rule.until_dpd is not None:
        fires = fires & (dpd <= rule.until_dpd)
    if rule.segments is not None:
        fires = fires & pl.col("risk_segment").is_in(rule.segments)
    if rule.buckets is not None:
        fires = fires & pl.col("bucket").is_in(rule.buckets)
    return fires, pl.lit(as_of)


def _education_filter(rule: EducationRule, as_of: dt.date) -> tuple[pl.Expr, pl.Expr]:
    since = (pl.lit(as_of) - pl.col("cycle_date")).dt.total_days()
    fires = (
        pl.col("education_opt_in")
        & (since == rule.days_after_statement)
        & (pl.col("statement_balance_minor") >= max(rule.min_balance_yuan, 1))
    )
    return fires, pl.col("cycle_date")


def due_messages(
    table: pl.DataFrame,
    as_of: dt.date,
    policy: OverduePolicy,
    *,
    payments_through: dt.date | None = None,
) -> pl.DataFrame:
    """Every message the rules make due on ``as_of`` (``PLAN_SCHEMA``), before the daily cap;
    ``payments_through``: the last day the payment data reaches (``_rule_filter``)."""
    reminders = reminders_of(policy)
    missing = [c for c in INPUT_SCHEMA if c not in table.columns]
    if missing:
        raise RemindersError(f"reminder input lacks {', '.join(missing)} (see reminder_input)")
    lazy = table.lazy()
    parts: list[pl.LazyFrame] = []
    rules: list[tuple[ReminderRule | EducationRule, str, str | None]] = [
        (r, r.trigger, None) for r in reminders.rules
    ]
    rules += [(e, "education", e.topic) for e in reminders.education]
    no_channels = pl.lit(None, pl.List(pl.String()))
    for rule, trigger, topic in rules:
        if isinstance(rule, ReminderRule):
            fires, anchor = _rule_filter(rule, as_of, payments_through)
        else:
            fires, anchor = _education_filter(rule, as_of)
        channels = pl.lit(rule.channels, pl.List(pl.String())) if rule.channels else no_channels
        parts.append(
            lazy.filter(fires.fill_null(False)).with_columns(
                pl.lit(rule.code).alias("rule"),
                pl.lit(trigger).alias("trigger"),
                pl.lit(topic, pl.String()).alias("topic"),
                pl.lit(rule.message_type).alias("message_type"),
                channels.alias("channels"),
                pl.lit(rule.priority, pl.Int32).alias("priority"),
                anchor.alias("anchor_date"),
            )
        )
    planned = (
        pl.concat(parts, how="vertical_relaxed")
        .with_columns(
            pl.lit(as_of).alias("as_of"),
            pl.lit(policy.version).alias("policy_version"),
            (
                pl.lit("reminder:")
                + pl.col("rule")
                + pl.lit(":")
                + pl.col("anchor_date").dt.strftime("%Y%m%d")
                + pl.lit(":")
                + pl.col("account_id")
            ).alias("decision_ref"),
        )
        .collect()
    )
    if planned.height == 0:
        return _empty(PLAN_SCHEMA)
    too_long = planned["decision_ref"].str.len_chars() > DECISION_REF_CHARS
    if too_long.any():
        planned = planned.with_columns(
            pl.Series(
                "decision_ref",
                [
                    decision_ref(r, a, acc) if long else ref
                    for r, a, acc, ref, long in zip(
                        planned["rule"],
                        planned["anchor_date"],
                        planned["account_id"],
                        planned["decision_ref"],
                        too_long,
                        strict=True,
                    )
                ],
            )
        )
    return planned.select([pl.col(c).cast(t) for c, t in PLAN_SCHEMA.items()])


def apply_daily_cap(due: pl.DataFrame, policy: OverduePolicy) -> pl.DataFrame:
    """At most ``max_per_account_per_day`` messages per account: lowest priority number first
    (ties by rule code, so the choice is deterministic and a re-run picks the same ones)."""
    cap = reminders_of(policy).max_per_account_per_day
    # A rule fires at most once per account, so (priority, rule) orders each account's
    # messages completely; sorting on them is cheaper than on the account ids.
    return due.sort("priority", "rule", maintain_order=True).filter(
        pl.int_range(pl.len()).over("account_id") < cap
    )


def plan_reminders(table: pl.DataFrame, as_of: dt.date, policy: OverduePolicy) -> pl.DataFrame:
    """The messages to queue on ``as_of`` (``PLAN_SCHEMA``): every rule of the policy's
    ``reminders`` section applied to ``table`` (``reminder_input``), then the daily cap."""
    return apply_daily_cap(due_messages(table, as_of, policy), policy)


def education_figures(plan: pl.DataFrame, policy: OverduePolicy) -> dict[str, dict[str, Any]]:
    """Per ``decision_ref`` of an education row, the figures its template quotes (fen)."""
    reminders = reminders_of(policy)
    rows = plan.filter(pl.col("trigger") == "education")
    if rows.height == 0:
        return {}
    costs = minimum_payment_costs(
        rows["statement_balance_minor"].to_numpy().astype(np.int64),
        reminders.minimum_payment,
        reminders.revolving,
    )
    out: dict[str, dict[str, Any]] = {}
    for i, ref in enumerate(rows["decision_ref"]):
        months = int(costs["months"][i])
        out[ref] = {
            "first_minimum_minor": int(costs["first_minimum_minor"][i]),
            "months": None if months < 0 else months,
            "total_interest_minor": int(costs["total_interest_minor"][i]),
            "total_paid_minor": int(costs["total_paid_minor"][i]),
        }
    return out
