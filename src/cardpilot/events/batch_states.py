"""The accounts' states after a batch folded column-wise (``events.batch_features``): each
account's last event's running figures, with what the batch's events add up to per account —
the money events still in the window, the cash advances since the statement, the spending
buckets kept and the day the minimum was covered.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from cardpilot.events.feature_frames import ACC, CONTACT, RECENT, SPEND, STATE_SCHEMA


def _per_account(e: pl.DataFrame) -> pl.DataFrame:
    """Each account's last event (its running figures are the account's now) with what the
    batch's events add up to."""
    contacts = (
        e.filter(pl.col("kind") == CONTACT)
        .sort("at", "pos")
        .group_by(ACC)
        .agg(pl.col("at").last().alias("k_at"), pl.col("outcome").last().alias("k_out"))
    )
    return (
        e.group_by(ACC, maintain_order=True)
        .agg(
            pl.col(_LAST).last(),
            pl.col("sequence").max().alias("seq_max"),
            pl.len().alias("n"),
            pl.col("day").filter(pl.col("payment")).max().alias("pay_day"),
        )
        .join(contacts, on=ACC, how="left", maintain_order="left")
    )


# What the new state takes from each account's last event (its running figures): only these
# are aggregated, not the sixty-odd columns the events carry by then.
_LAST = [
    "latest",
    "first",
    "last_cash",
    "bal_since",
    "paid_since",
    "c_batch",
    *(f"c_{c}" for c in ("currency", "statement_at", "statement_balance_minor")),
    *(f"c_{c}" for c in ("credit_limit_minor", "minimum_due_minor", "due_date")),
    "c_utilisation_at_statement_bp",
    *(f"p_{c}" for c in ("last_sequence", "events_applied", "minimum_paid_on")),
    *(f"p_{c}" for c in ("last_payment_on", "cash_advances_this_cycle")),
    *(f"p_{c}" for c in ("last_contact_at", "last_contact_outcome")),
]


def _window_figures(
    last: pl.DataFrame, money: pl.DataFrame, spends: pl.DataFrame, months: int, window: dt.timedelta
) -> pl.DataFrame:
    """Per account: the money events still in the window (``recent_new``), the cash
    advances since the statement (``cash_n``) and the spending buckets kept (``spend_new``)."""
    s, iat = pl.col("s"), pl.col("iat")
    it = money.join(
        last.select(
            ACC,
            pl.col("c_statement_at").alias("s"),
            pl.col("c_batch").alias("fb"),
            "latest",
        ),
        on=ACC,
    )
    recent = (
        it.filter(iat >= pl.col("latest") - window)
        .sort(ACC, "iat", "arr")
        .group_by(ACC, maintain_order=True)
        .agg(
            pl.struct(
                pl.col("iat").alias("at"),
                pl.col("ibal").alias("balance"),
                pl.col("ipaid").alias("paid"),
                pl.col("icash").alias("cash"),
            ).alias("recent_new")
        )
    )
    after = (s.is_null() | (iat > s)) & (pl.col("fb") | pl.col("batch"))
    cash = it.filter(after & pl.col("icash")).group_by(ACC).agg(pl.len().alias("cash_n"))
    latest_month = spends.group_by(ACC).agg(pl.col("imonth").max().alias("top"))
    kept = (
        spends.group_by(ACC, "imonth")
        .agg(pl.col("iamt").sum())
        .join(latest_month, on=ACC)
        .filter(pl.col("imonth") >= pl.col("top") - months)
        .sort(ACC, "imonth")
        .group_by(ACC, maintain_order=True)
        .agg(
            pl.struct(pl.col("imonth").alias("month"), pl.col("iamt").alias("amount")).alias(
                "spend_new"
            )
        )
    )
    out = last.select(ACC)
    for part in (recent, cash, kept):
        out = out.join(part, on=ACC, how="left", maintain_order="left")
    return out


def _covered(e: pl.DataFrame, money: pl.DataFrame, zone: str, window: dt.timedelta) -> pl.DataFrame:
    """Per account whose minimum the batch decided again: the day it was covered
    (``covered_on``, None: not yet).

    The per-event fold works it out again at each payment (or reversal of one) and each
    statement, from the money events it then holds (those of the window before the event)
    after the statement, starting from what was paid since the statement before them; when
    that alone covers the minimum it keeps the day it had. So each such event is decided the
    same way here, and the account's day is that of the last one that did not keep it.
    """
    again = e.filter((pl.col("paid") != 0) | pl.col("takes")).select(
        ACC,
        pl.col("pos").alias("t"),
        pl.col("c_statement_at").alias("s"),
        pl.col("c_minimum_due_minor").alias("min"),
        pl.col("c_due_date").alias("due"),
        "paid_since",
        (pl.col("latest_before") - window).alias("horizon"),
    )
    iat = pl.col("iat")
    held = (
        again.join(money, on=ACC)
        .filter(
            (pl.col("ipos") <= pl.col("t"))
            & (pl.col("horizon").is_null() | (iat >= pl.col("horizon")))
            & pl.col("s").is_not_null()
            & (iat > pl.col("s"))
        )
        .sort("t", "iat", "arr")
    )
    # The payments' running sum per event: the column's, less what it was at its first row.
    total = pl.col("ipaid").cum_sum()
    first = (pl.col("t") != pl.col("t").shift(1)).fill_null(True)
    offset = pl.when(first).then(total - pl.col("ipaid")).forward_fill()
    sums = held.group_by("t").agg(pl.col("ipaid").sum().alias("paid_held"))
    walked = (
        held.join(sums, on="t", how="left", maintain_order="left")
        .with_columns(base=pl.col("paid_since") - pl.col("paid_held"))
        .with_columns(cum=pl.col("base") + total - offset)
        .group_by("t")
        .agg(
            pl.col("base").first(),
            iat.filter((pl.col("ipaid") > 0) & (pl.col("cum") >= pl.col("min")))
            .first()
            .alias("hit_at"),
        )
    )
    minimum = pl.col("min")
    undue = pl.col("due").is_null() | (minimum <= 0)
    base = pl.col("base").fill_null(pl.col("paid_since"))
    return (
        again.join(walked, on="t", how="left", maintain_order="left")
        .filter(undue | (base < minimum))
        .group_by(ACC, maintain_order=True)
        .agg(
            pl.when(undue)
            .then(None)
            .otherwise(pl.col("hit_at").dt.convert_time_zone(zone).dt.date())
            .last()
            .alias("covered_on"),
            pl.lit(True).alias("covered_again"),
        )
    )


def final_states(
    e: pl.DataFrame,
    money: pl.DataFrame,
    spends: pl.DataFrame,
    zone: str,
    months: int,
    window: dt.timedelta,
) -> pl.DataFrame:
    last = _per_account(e)
    last = last.join(
        _window_figures(last, money, spends, months, window), on=ACC, maintain_order="left"
    ).join(_covered(e, money, zone, window), on=ACC, how="left", maintain_order="left")
    covered_on = (
        pl.when(pl.col("covered_again").fill_null(False))
        .then(pl.col("covered_on"))
        .otherwise(pl.col("p_minimum_paid_on"))
    )
    cash = pl.col("cash_n").fill_null(0)
    newer = pl.col("k_at").is_not_null() & (
        pl.col("p_last_contact_at").is_null() | (pl.col("k_at") >= pl.col("p_last_contact_at"))
    )
    return last.select(
        ACC,
        pl.max_horizontal("p_last_sequence", "seq_max").alias("last_sequence"),
        pl.col("latest").alias("last_occurred_at"),
        (pl.col("p_events_applied") + pl.col("n")).alias("events_applied"),
        *(pl.col(f"c_{c}").alias(c) for c in ("currency", "statement_at")),
        *(
            pl.col(f"c_{c}").alias(c)
            for c in ("statement_balance_minor", "credit_limit_minor", "minimum_due_minor")
        ),
        pl.col("c_due_date").alias("due_date"),
        pl.col("bal_since").alias("balance_since_statement_minor"),
        pl.col("paid_since").alias("paid_since_statement_minor"),
        covered_on.alias("minimum_paid_on"),
        pl.max_horizontal("p_last_payment_on", "pay_day").alias("last_payment_on"),
        pl.col("c_utilisation_at_statement_bp").alias("utilisation_at_statement_bp"),
        # An account with no spending buckets had none before either.
        pl.col("spend_new").fill_null(pl.lit([], pl.List(SPEND))).alias("spend_by_month"),
        pl.col("first").alias("first_month"),
        pl.col("last_cash").alias("last_cash_advance_on"),
        pl.when(pl.col("c_batch"))
        .then(cash)
        .otherwise(pl.col("p_cash_advances_this_cycle") + cash)
        .alias("cash_advances_this_cycle"),
        pl.when(newer)
        .then(pl.col("k_out"))
        .otherwise(pl.col("p_last_contact_outcome"))
        .alias("last_contact_outcome"),
        pl.when(newer)
        .then(pl.col("k_at"))
        .otherwise(pl.col("p_last_contact_at"))
        .alias("last_contact_at"),
        pl.col("recent_new").fill_null(pl.lit([], pl.List(RECENT))).alias("recent"),
    ).cast(STATE_SCHEMA)  # type: ignore[arg-type]
