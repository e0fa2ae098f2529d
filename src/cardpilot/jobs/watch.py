"""Watch after large increases (issue #5 item 6).

An increase of at least ``watch.min_increase_pct`` starts a watch of ``watch.months`` months
(started in the review's own transaction, so a watch exists exactly when its decision does).
Every statement of a watched account in that time is checked against the policy's watch rules:

* ``missed_payment``: a balance was owed from the previous cycle and nothing was paid, or the
  statement is overdue;
* ``utilisation_jump``: utilisation at least ``utilisation_jump`` above the account's mean over
  the cycles before the watch;
* ``cash_advance_surge``: cash advances at least ``cash_advance_multiple`` times the pre-watch
  monthly mean and at least ``cash_advance_min_yuan``;
* ``spending_spike``: new spending at least ``spending_multiple`` times the pre-watch mean and
  at least ``spending_min_yuan``.

Flags are stored with their reason code (unique per watch, cycle and rule, so checking again
adds nothing) and shown by ``cardpilot watch``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, text

from cardpilot.policy.schema import Policy, percent_to_bp

WATCH_RULES: tuple[str, ...] = (
    "missed_payment",
    "utilisation_jump",
    "cash_advance_surge",
    "spending_spike",
)
_ID_BATCH = 500


def _months_after(day: dt.date, months: int) -> dt.date:
    from cardpilot.jobs.review import months_after

    return months_after(day, months)


def start_watches_statement(
    policy: Policy, as_of: dt.date, *, run: int, lo: str, hi: str
) -> tuple[str, dict[str, Any]]:
    """The SQL (``:name`` parameters) and parameters that start the watches of a chunk."""
    watch = policy.limits.watch
    bp = percent_to_bp(watch.min_increase_pct)
    sql = (
        "INSERT INTO limit_watch (account_id, decision_id, started_on, ends_on,"
        " old_limit_minor, new_limit_minor, policy_version)"
        " SELECT account_id, id, :started, :ends, old_limit_minor, new_limit_minor,"
        " policy_version FROM limit_decisions"
        " WHERE run_id = :run AND account_id BETWEEN :lo AND :hi AND action = 'increase'"
        " AND new_limit_minor * 10000 >= old_limit_minor * :factor"
        " ON CONFLICT (decision_id) DO NOTHING"
    )
    params = {
        "started": as_of,
        "ends": _months_after(as_of, watch.months),
        "run": run,
        "lo": lo,
        "hi": hi,
        "factor": 10_000 + bp,
    }
    return sql, params


def start_watches(
    conn: Connection, policy: Policy, as_of: dt.date, *, run: int, lo: str, hi: str
) -> int:
    """Start a watch for each large increase this run decided in ``[lo, hi]``; returns how many.

    Runs inside the review chunk's transaction; ``decision_id`` is unique, so never twice.
    """
    sql, params = start_watches_statement(policy, as_of, run=run, lo=lo, hi=hi)
    result = conn.execute(text(sql), params)
    return int(result.rowcount or 0)


def _watches(db: Engine, as_of: dt.date) -> pl.DataFrame:
    from cardpilot.jobs.review import query_frame

    with db.connect() as conn:
        return query_frame(
            conn,
            "SELECT id, account_id, started_on, ends_on FROM limit_watch"
            " WHERE started_on < :as_of ORDER BY id",
            {"as_of": as_of},
            {
                "watch_id": pl.Int64(),
                "account_id": pl.String(),
                "started_on": pl.Date(),
                "ends_on": pl.Date(),
            },
        )


def _statements(db: Engine, account_ids: list[str], since: dt.date, as_of: dt.date) -> pl.DataFrame:
    from sqlalchemy import bindparam

    from cardpilot.jobs.review import _STATEMENT_COLUMNS, query_frame

    frames = []
    sql = text(
        "SELECT account_id, cycle_date, credit_limit_minor, statement_balance_minor,"
        " minimum_due_minor, amount_paid_minor, purchases_minor, cash_advances_minor,"
        " repayment_status, days_past_due FROM statements"
        " WHERE account_id IN :ids AND cycle_date >= :since AND cycle_date <= :as_of"
    ).bindparams(bindparam("ids", expanding=True))
    with db.connect() as conn:
        for start in range(0, len(account_ids), _ID_BATCH):
            ids = account_ids[start : start + _ID_BATCH]
            frames.append(
                query_frame(
                    conn,
                    sql,
                    {"ids": ids, "since": since, "as_of": as_of},
                    _STATEMENT_COLUMNS,
                )
            )
    if not frames:
        return pl.DataFrame(schema=_STATEMENT_COLUMNS)
    return pl.concat(frames)


def watch_flags_frame(
    watches: pl.DataFrame, statements: pl.DataFrame, policy: Policy
) -> pl.DataFrame:
    """The rules that fire on each statement inside a watch (vectorised, no I/O).

    ``watches``: watch_id, account_id, started_on, ends_on; ``statements``: the statement frame
    of docs/CONTRACTS.md including the cycles before each watch (its baseline).
    """
    rules = policy.limits.watch
    stmts = statements.sort("account_id", "cycle_date").with_columns(
        pl.col("statement_balance_minor").shift(1).over("account_id").alias("_prev"),
    )
    balance = pl.col("statement_balance_minor")
    limit = pl.col("credit_limit_minor")
    stmts = stmts.with_columns(
        pl.when(limit > 0).then(balance.cast(pl.Float64) / limit).alias("_util"),
        pl.col("cash_advances_minor").fill_null(0).alias("_cash"),
        pl.coalesce(
            pl.col("purchases_minor") + pl.col("cash_advances_minor").fill_null(0),
            pl.max_horizontal(balance - pl.col("_prev") + pl.col("amount_paid_minor"), pl.lit(0)),
        ).alias("_spend"),
    )
    joined = watches.join(stmts, on="account_id", how="inner")
    before = joined.filter(pl.col("cycle_date") < pl.col("started_on"))
    baseline = before.group_by("watch_id").agg(
        pl.col("_util").mean().alias("_base_util"),
        pl.col("_cash").cast(pl.Float64).mean().alias("_base_cash"),
        pl.col("_spend").cast(pl.Float64).mean().alias("_base_spend"),
    )
    during = joined.filter(
        (pl.col("cycle_date") >= pl.col("started_on")) & (pl.col("cycle_date") < pl.col("ends_on"))
    ).join(baseline, on="watch_id", how="left")
    cash_x = float(Decimal(rules.cash_advance_multiple))
    spend_x = float(Decimal(rules.spending_multiple))
    fired = {
        "missed_payment": (
            ((pl.col("_prev") > 0) & (pl.col("amount_paid_minor") == 0)).fill_null(False)
            | (pl.col("days_past_due") > 0)
        ),
        "utilisation_jump": (
            pl.col("_util") - pl.col("_base_util").fill_null(0.0) >= rules.utilisation_jump
        ).fill_null(False),
        "cash_advance_surge": (
            (pl.col("_cash") >= rules.cash_advance_min_minor)
            & (pl.col("_cash") >= pl.col("_base_cash").fill_null(0.0) * cash_x)
        ).fill_null(False),
        "spending_spike": (
            (pl.col("_spend") >= rules.spending_min_minor)
            & (pl.col("_spend") >= pl.col("_base_spend").fill_null(0.0) * spend_x)
        ).fill_null(False),
    }
    detail = {
        "missed_payment": pl.format(
            "paid {} of {} owed, {} days past due",
            pl.col("amount_paid_minor"),
            pl.col("_prev"),
            pl.col("days_past_due"),
        ),
        "utilisation_jump": pl.format(
            "utilisation {} vs {} before", pl.col("_util").round(3), pl.col("_base_util").round(3)
        ),
        "cash_advance_surge": pl.format(
            "cash advances {} vs mean {} before", pl.col("_cash"), pl.col("_base_cash").round(0)
        ),
        "spending_spike": pl.format(
            "spending {} vs mean {} before", pl.col("_spend"), pl.col("_base_spend").round(0)
        ),
    }
    codes = rules.reason_codes()
    parts = [
        during.filter(fired[rule]).select(
            "watch_id",
            "account_id",
            "cycle_date",
            pl.lit(rule).alias("rule"),
            pl.lit(codes[rule]).alias("reason_code"),
            detail[rule].alias("detail"),
        )
        for rule in WATCH_RULES
    ]
    return pl.concat(parts).sort("watch_id", "cycle_date", "rule")


def check_watches(db: Engine, policy: Policy, as_of: dt.date) -> int:
    """Check every statement up to ``as_of`` of every watch against the rules; store new flags.
    Returns the flags added (checking again adds nothing)."""
    watches = _watches(db, as_of)
    if watches.height == 0:
        return 0
    first = watches["started_on"].min()
    assert isinstance(first, dt.date)
    since = dt.date(first.year - 1, first.month, 1)  # the pre-watch baseline (six cycles)
    ids = watches["account_id"].unique().sort().to_list()
    statements = _statements(db, ids, since, as_of)
    flags = watch_flags_frame(watches, statements, policy)
    if flags.height == 0:
        return 0
    rows: list[dict[str, Any]] = flags.to_dicts()
    added = 0
    with db.begin() as conn:
        result = conn.execute(
            text(
                "INSERT INTO watch_flags (watch_id, account_id, cycle_date, rule, reason_code,"
                " detail) VALUES (:watch_id, :account_id, :cycle_date, :rule, :reason_code,"
                " :detail) ON CONFLICT (watch_id, cycle_date, rule) DO NOTHING"
            ),
            rows,
        )
        added = int(result.rowcount or 0)
    return added


def watch_list(db: Engine, policy: Policy | None = None, locale: str = "zh-CN") -> pl.DataFrame:
    """Every watch with its flags (one row per watch; flags as lists), newest first."""
    from cardpilot.jobs.review import query_frame

    with db.connect() as conn:
        watches = query_frame(
            conn,
            "SELECT w.id, w.account_id, w.started_on, w.ends_on, w.old_limit_minor,"
            " w.new_limit_minor, d.grade, d.segment FROM limit_watch w"
            " JOIN limit_decisions d ON d.id = w.decision_id ORDER BY w.id",
            {},
            {
                "watch_id": pl.Int64(),
                "account_id": pl.String(),
                "started_on": pl.Date(),
                "ends_on": pl.Date(),
                "old_limit_minor": pl.Int64(),
                "new_limit_minor": pl.Int64(),
                "grade": pl.String(),
                "segment": pl.String(),
            },
        )
        flags = query_frame(
            conn,
            "SELECT watch_id, cycle_date, rule, reason_code, detail FROM watch_flags"
            " ORDER BY watch_id, cycle_date, rule",
            {},
            {
                "watch_id": pl.Int64(),
                "cycle_date": pl.Date(),
                "rule": pl.String(),
                "reason_code": pl.String(),
                "detail": pl.String(),
            },
        )
    texts: dict[str, str] = {}
    if policy is not None:
        texts = {code: t.text(locale) for code, t in policy.reasons.reasons.items()}
    flags = flags.with_columns(
        pl.col("reason_code")
        .replace_strict(texts, default=pl.col("reason_code"), return_dtype=pl.String)
        .alias("reason_text")
    )
    per_watch = flags.group_by("watch_id").agg(
        pl.len().alias("flags"),
        pl.col("cycle_date").max().alias("last_flag_on"),
        pl.col("reason_code").unique(maintain_order=True).alias("reason_codes"),
        pl.col("reason_text").unique(maintain_order=True).alias("reason_texts"),
    )
    return (
        watches.join(per_watch, on="watch_id", how="left")
        .with_columns(pl.col("flags").fill_null(0))
        .sort(["flags", "watch_id"], descending=[True, False])
    )
