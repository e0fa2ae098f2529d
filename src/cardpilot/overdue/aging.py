"""Vectorised aging of a portfolio: one Polars plan over the statement frame.

``age_accounts(statements, as_of, policy)`` gives, per account on ``as_of``: days past due,
bucket, cycles delinquent, consecutive overdue months, cures, balance, overdue balance and the
write-off flag. It agrees with the one-account ``cardpilot.domain.delinquency.age_account``
(tested for parity). ``roll_rates(prev, curr)`` compares two snapshots.

Definitions (docs/overdue.md):

* days past due on ``as_of``: the latest cycle on or before ``as_of``; an overdue cycle keeps
  aging by the days since its cycle date (``aging.age_between_cycles``), a cycle that was not
  overdue stays at 0 until the next statement. On the UCI data the cycle's days past due come
  from the repayment status code (docs/CONTRACTS.md "UCI mapping": 1..8 → 30·c, 9 → 270).
* cycles delinquent: how many cycles up to ``as_of`` were overdue;
  consecutive overdue months: the run of overdue cycles ending at the latest one;
  cures: how many times an overdue cycle was followed by one that was not.
* balance: the latest statement balance, negative (credit) balances counted as 0;
  overdue balance: that balance when the account is past due, else 0.

**What the ledger shows** (``LedgerPayments``: the ledger's payments and the last day its
payment data reaches) decides days past due wherever it can: for an account whose latest
statement states a minimum due and a due date, the payments the ledger holds after the cycle
date up to ``as_of`` either meet the minimum (the account is current: the minimum includes
anything past due) or not; a minimum not met makes a statement that was current past due by
the days since its due date only when the payment data reaches that due date (else nobody
knows it was missed); one already past due keeps aging. Without a stated minimum (the UCI
file) the statements' own days past due stand.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

import polars as pl

from cardpilot.domain.delinquency import CURRENT, BucketScale
from cardpilot.overdue.schema import AgingPolicy, OverduePolicy

SNAPSHOT_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "as_of": pl.Date(),
    "last_cycle_date": pl.Date(),
    "days_past_due": pl.Int32(),
    "bucket": pl.String(),
    "cycles_delinquent": pl.Int32(),
    "consecutive_overdue_months": pl.Int32(),
    "cures": pl.Int32(),
    "balance_minor": pl.Int64(),
    "overdue_balance_minor": pl.Int64(),
    "write_off": pl.Boolean(),
    "policy_version": pl.String(),
}
EXITED = "exited"  # in a roll-rate table: the account is not in the later snapshot


class AgingInputError(ValueError):
    """The statement frame lacks a column aging needs."""


LEDGER_PAYMENTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "paid_on": pl.Date(),  # the business day, in the issuer's time zone
    "amount_minor": pl.Int64(),  # > 0
}


@dataclass(frozen=True)
class LedgerPayments:
    """The ledger's payments (``LEDGER_PAYMENTS``; those after ``since`` are enough: a
    statement older than ``since`` is not judged by them) and the last day the store's
    payment data reaches (None: it holds none)."""

    payments: pl.DataFrame
    known_through: dt.date | None
    since: dt.date | None = None


def _ledger_dpd(statement_dpd: pl.Expr, as_of: dt.date, ledger: LedgerPayments) -> pl.Expr:
    """Days past due where the ledger can judge the latest statement, else ``statement_dpd``.

    A minimum met by the payments in the ledger is a fact whatever the data's reach; a minimum
    not met counts only when the payment data reaches the due date (or ``as_of``)."""
    if ledger.known_through is None:
        return statement_dpd
    due, minimum = pl.col("due_last"), pl.col("minimum_last")
    seen = (minimum > 0) & due.is_not_null()
    if ledger.since is not None:
        seen = seen & (pl.col("last_cycle_date") >= pl.lit(ledger.since))
    known = seen & (pl.lit(ledger.known_through) >= pl.min_horizontal(due, pl.lit(as_of)))
    since_due = (pl.lit(as_of) - due).dt.total_days().cast(pl.Int32)
    return (
        pl.when((seen & (pl.col("paid_since_cycle") >= minimum)).fill_null(False))
        .then(pl.lit(0, pl.Int32))
        .when((known & (pl.col("dpd_last") == 0) & (since_due > 0)).fill_null(False))
        .then(since_due)
        .otherwise(statement_dpd)
    )


def _paid_since_cycle(
    per_account: pl.LazyFrame, as_of: dt.date, ledger: LedgerPayments
) -> pl.LazyFrame:
    """``per_account`` with ``paid_since_cycle``: the ledger's payments after each account's
    latest cycle date, up to ``as_of``."""
    paid = (
        ledger.payments.lazy()
        .select(
            pl.col("account_id").cast(pl.String),
            pl.col("paid_on").cast(pl.Date),
            pl.col("amount_minor").cast(pl.Int64),
        )
        .filter(pl.col("paid_on") <= as_of)
        .join(per_account.select("account_id", "last_cycle_date"), on="account_id")
        .filter(pl.col("paid_on") > pl.col("last_cycle_date"))
        .group_by("account_id")
        .agg(pl.col("amount_minor").sum().alias("paid_since_cycle"))
    )
    return per_account.join(paid, on="account_id", how="left").with_columns(
        pl.col("paid_since_cycle").fill_null(0)
    )


def bucket_expr(dpd: pl.Expr, scale: BucketScale) -> pl.Expr:
    """The bucket code for a days-past-due expression, from the policy's scale."""
    buckets = scale.buckets
    expr: Any = pl.when(dpd <= buckets[0].max_dpd).then(pl.lit(buckets[0].code))
    for bucket in buckets[1:-1]:
        expr = expr.when(dpd <= bucket.max_dpd).then(pl.lit(bucket.code))
    result: pl.Expr = expr.otherwise(pl.lit(buckets[-1].code))
    return result


def _aging(policy: OverduePolicy | AgingPolicy) -> tuple[AgingPolicy, str]:
    if isinstance(policy, OverduePolicy):
        return policy.file.aging, policy.version
    return policy, "aging-only"


def _per_account(statements: pl.LazyFrame, as_of: dt.date, judging: bool) -> pl.LazyFrame:
    """Each account's cycles up to ``as_of`` summed up: its latest cycle (date, days past due,
    balance; with ``judging``, its due date and minimum due), cycles delinquent, the run of
    overdue cycles ending at the latest, cures."""
    overdue = pl.col("dpd") > 0
    ov_newest_first = overdue.reverse()
    terms = (
        [
            pl.col("due_date").cast(pl.Date).alias("due"),
            pl.col("minimum_due_minor").cast(pl.Int64).alias("minimum"),
        ]
        if judging
        else []
    )
    return (
        statements.select(
            pl.col("account_id").cast(pl.String),
            pl.col("cycle_date").cast(pl.Date),
            pl.col("days_past_due").fill_null(0).cast(pl.Int32).alias("dpd"),
            pl.col("statement_balance_minor").cast(pl.Int64).alias("bal"),
            *terms,
        )
        .filter(pl.col("cycle_date") <= as_of)
        # One stable sort on the (integer) date; group_by keeps row order inside each group,
        # so every account's cycles are in date order without sorting the string ids.
        .sort("cycle_date", maintain_order=True)
        .group_by("account_id")
        .agg(
            pl.col("cycle_date").last().alias("last_cycle_date"),
            pl.col("dpd").last().alias("dpd_last"),
            pl.col("bal").last().alias("bal_last"),
            overdue.sum().cast(pl.Int32).alias("cycles_delinquent"),
            pl.when(overdue.all())
            .then(pl.len())
            .otherwise((~ov_newest_first).arg_max())
            .cast(pl.Int32)
            .alias("consecutive_overdue_months"),
            (overdue.shift(1) & ~overdue).sum().cast(pl.Int32).alias("cures"),
            *(
                [
                    pl.col("due").last().alias("due_last"),
                    pl.col("minimum").last().alias("minimum_last"),
                ]
                if judging
                else []
            ),
        )
    )


def age_accounts_lazy(
    statements: pl.LazyFrame,
    as_of: dt.date,
    policy: OverduePolicy | AgingPolicy,
    ledger: LedgerPayments | None = None,
) -> pl.LazyFrame:
    aging, version = _aging(policy)
    names = statements.collect_schema().names()
    needed = ("account_id", "cycle_date", "statement_balance_minor", "days_past_due")
    missing = [c for c in needed if c not in names]
    if missing:
        raise AgingInputError(
            f"statement frame lacks {', '.join(missing)} (docs/CONTRACTS.md 'Statement frame')"
        )
    judging = ledger is not None and {"due_date", "minimum_due_minor"} <= set(names)
    per_account = _per_account(statements, as_of, judging)
    gap = (pl.lit(as_of) - pl.col("last_cycle_date")).dt.total_days().cast(pl.Int32)
    dpd = (
        pl.when(pl.col("dpd_last") > 0)
        .then(pl.col("dpd_last") + (gap if aging.age_between_cycles else pl.lit(0, pl.Int32)))
        .otherwise(pl.lit(0, pl.Int32))
        .cast(pl.Int32)
    )
    if judging and ledger is not None:
        per_account = _paid_since_cycle(per_account, as_of, ledger)
        dpd = _ledger_dpd(dpd, as_of, ledger).cast(pl.Int32)
    balance = pl.max_horizontal(pl.col("bal_last"), pl.lit(0, pl.Int64))
    write_off = (
        pl.col("days_past_due") > aging.write_off_after_days
        if aging.write_off_after_days is not None
        else pl.lit(False)
    )
    return (
        per_account.with_columns(dpd.alias("days_past_due"), balance.alias("balance_minor"))
        .with_columns(
            pl.lit(as_of).alias("as_of"),
            bucket_expr(pl.col("days_past_due"), aging.scale()).alias("bucket"),
            pl.when(pl.col("days_past_due") > 0)
            .then(pl.col("balance_minor"))
            .otherwise(pl.lit(0, pl.Int64))
            .alias("overdue_balance_minor"),
            write_off.alias("write_off"),
            pl.lit(version).alias("policy_version"),
        )
        .select([pl.col(c).cast(t) for c, t in SNAPSHOT_SCHEMA.items()])
    )


def age_accounts(
    statements: pl.DataFrame | pl.LazyFrame,
    as_of: dt.date,
    policy: OverduePolicy | AgingPolicy,
    ledger: LedgerPayments | None = None,
) -> pl.DataFrame:
    """Per-account aging on ``as_of`` (accounts with no cycle by then are left out); with
    ``ledger``, days past due from what the ledger shows due and unpaid where it can."""
    lazy = age_accounts_lazy(statements.lazy(), as_of, policy, ledger)
    return lazy.sort("account_id").collect()


def bucket_summary(snapshot: pl.DataFrame, scale: BucketScale) -> pl.DataFrame:
    """Accounts and balances per bucket, every bucket of the scale listed in order."""
    counts = snapshot.group_by("bucket").agg(
        pl.len().cast(pl.Int64).alias("accounts"),
        pl.col("balance_minor").sum().alias("balance_minor"),
        pl.col("overdue_balance_minor").sum().alias("overdue_balance_minor"),
        pl.col("write_off").sum().cast(pl.Int64).alias("write_off_accounts"),
    )
    order = pl.DataFrame({"bucket": list(scale.codes), "rank": list(range(len(scale.codes)))})
    return order.join(counts, on="bucket", how="left").fill_null(0).sort("rank").drop("rank")


def roll_rates(prev: pl.DataFrame, curr: pl.DataFrame) -> pl.DataFrame:
    """Transitions between two snapshots: for each (from, to) bucket pair, accounts and
    balance (at the earlier snapshot) that moved, and their shares of the ``from`` bucket.

    Accounts missing from the later snapshot go to ``exited``; accounts new in it are not
    counted (they had no earlier bucket).
    """
    joined = prev.select(
        "account_id", pl.col("bucket").alias("from_bucket"), pl.col("balance_minor")
    ).join(
        curr.select("account_id", pl.col("bucket").alias("to_bucket")),
        on="account_id",
        how="left",
    )
    moves = (
        joined.with_columns(pl.col("to_bucket").fill_null(EXITED))
        .group_by("from_bucket", "to_bucket")
        .agg(pl.len().cast(pl.Int64).alias("accounts"), pl.col("balance_minor").sum())
    )
    return transition_rates(moves)


def transition_rates(moves: pl.DataFrame) -> pl.DataFrame:
    """Accounts and balances that moved per (from, to) bucket pair, with their shares of the
    from-bucket's accounts (``rate``) and of its balance (``balance_rate``)."""
    totals = moves.group_by("from_bucket").agg(
        pl.col("accounts").sum().alias("from_accounts"),
        pl.col("balance_minor").sum().alias("from_balance_minor"),
    )
    return (
        moves.join(totals, on="from_bucket")
        .with_columns(
            (pl.col("accounts") / pl.col("from_accounts")).alias("rate"),
            pl.when(pl.col("from_balance_minor") > 0)
            .then(pl.col("balance_minor") / pl.col("from_balance_minor"))
            .otherwise(None)
            .alias("balance_rate"),
        )
        .sort("from_bucket", "to_bucket")
    )


def roll_summary(rates: pl.DataFrame, scale: BucketScale) -> dict[str, list[dict[str, object]]]:
    """The classic view: forward rolls (current→M1, M1→M2, …) and cures (Mk→current).

    Every pair of the scale is listed, with 0 where nothing moved or the from-bucket was empty.
    """
    lookup = {(r["from_bucket"], r["to_bucket"]): r for r in rates.iter_rows(named=True)}
    from_totals: dict[str, int] = {}
    for r in rates.iter_rows(named=True):
        from_totals[r["from_bucket"]] = r["from_accounts"]

    def entry(a: str, b: str) -> dict[str, object]:
        row = lookup.get((a, b))
        return {
            "from": a,
            "to": b,
            "accounts": 0 if row is None else row["accounts"],
            "from_accounts": from_totals.get(a, 0),
            "rate": f"{0.0 if row is None else row['rate']:.6f}",
            "balance_rate": f"{0.0 if row is None or row['balance_rate'] is None else row['balance_rate']:.6f}",  # noqa: E501
        }

    codes = scale.codes
    forward = [entry(a, b) for a, b in itertools.pairwise(codes)]
    cures = [entry(code, CURRENT) for code in codes[1:]]
    return {"forward": forward, "cures": cures}
