"""The running features folded over a whole batch at once, column-wise, equal to the per-event
fold (``events.features.apply_event``) event for event.

Within the late window the per-event fold is a function of the set of events applied, not of
their arrival order: spending is bucketed by month, the balance and payments since the
statement are sums over the money events after it, the minimum is covered at the first
payment (in time order) where the payments after the statement reach it. So each event's
figures are sums over the events of its account up to it (a join of the batch's events with
the account's money events: the batch's and the window's held in the state) and running
maxima, and the new state is the last of them. An account with an event that happened more
than the window before the account's latest event (which the fold no longer has the events
around) is folded event by event instead, with the same function.

``fold_batch`` takes the states of the batch's accounts (``STATE_SCHEMA``, none for a new
account) and the applied events in order (``event_frame``) and returns the accounts' new
states and one trigger row per event (``TRIGGER_COLUMNS``, what
``AccountFeatures.trigger_row`` gives).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import polars as pl

from cardpilot.domain.money import BP
from cardpilot.events.batch_states import final_states
from cardpilot.events.event_columns import EVENT_SCHEMA as EVENT_SCHEMA
from cardpilot.events.event_columns import event_columns
from cardpilot.events.feature_frames import (
    ACC,
    MONEY,
    RECENT,
    SPEND,
    STATE_SCHEMA,
    STATEMENT,
    states_frame,
    states_of,
)
from cardpilot.events.features import AccountFeatures, apply_event
from cardpilot.events.schema import Event

# Below this many events a batch is folded event by event: the columns' fixed cost (a few
# hundred frame operations, about 12 ms) is more than the loop's (about 15 µs an event).
COLUMNS_FROM = 800

TRIGGER_COLUMNS: dict[str, pl.DataType] = {
    "as_of": pl.Date(),
    "account_id": pl.String(),
    "currency": pl.String(),
    "cycle_date": pl.Date(),
    "due_date": pl.Date(),
    "statement_balance_minor": pl.Int64(),
    "minimum_due_minor": pl.Int64(),
    "unpaid_minimum_minor": pl.Int64(),
    "utilisation": pl.Float64(),
    "spend_to_6m_average": pl.Float64(),
    "days_since_cash_advance": pl.Int32(),
}

# The statement's figures an event sees: the latest statement's (by time) among the state's
# and the batch's up to it; the state's column, the event's column.
STATEMENT_FIELDS = {
    "statement_at": "at",
    "statement_balance_minor": "s_balance",
    "credit_limit_minor": "s_limit",
    "minimum_due_minor": "s_min_due",
    "due_date": "s_due",
    "currency": "s_currency",
    "utilisation_at_statement_bp": "s_use_bp",
}


@dataclass(frozen=True, slots=True)
class Folded:
    states: pl.DataFrame  # STATE_SCHEMA, one row per account with events
    triggers: pl.DataFrame  # TRIGGER_COLUMNS, one row per event, in order


def zone_name(tz: dt.tzinfo) -> str:
    """The IANA name Polars converts times with (a ``ZoneInfo``'s key, or UTC)."""
    key = getattr(tz, "key", None)
    if key:
        return str(key)
    if tz.utcoffset(None) == dt.timedelta(0):
        return "UTC"
    raise ValueError(f"the events' time zone needs an IANA name, not {tz!r}")


def event_frame(events: Sequence[Event]) -> pl.DataFrame:
    """The applied events as columns (``EVENT_SCHEMA``), in order."""
    return event_columns(events, None, "UTC")[0]


def _grouped(events: pl.DataFrame, priors: pl.DataFrame) -> pl.DataFrame:
    """``events`` sorted by account (``g``, numbered as in ``priors``) then position, with
    each row's number (``row``) and its account's first row's (``start``): what the running
    figures below are worked out on, with whole-column operations (a window per account
    costs a pass per account, which for a batch of a few events an account is most of it)."""
    numbers = priors.select(ACC).with_row_index("g")
    e = events.join(numbers, on=ACC, how="left").sort("g", "pos").with_row_index("row")
    first = pl.col("g") != pl.col("g").shift(1)
    return e.with_columns(start=pl.when(first.fill_null(True)).then(pl.col("row")).forward_fill())


def _before(x: pl.Expr) -> pl.Expr:
    """``x`` of the account's previous row (None on its first)."""
    return pl.when(pl.col("row") == pl.col("start")).then(None).otherwise(x.shift(1))


def _last_given(x: pl.Expr) -> pl.Expr:
    """The latest non-null ``x`` of the account up to this row."""
    at = pl.when(x.is_not_null()).then(pl.col("row")).forward_fill()
    return pl.when(at >= pl.col("start")).then(x.gather(at.fill_null(0)))


def _running_max(x: pl.Expr) -> pl.Expr:
    """The largest ``x`` of the account up to this row (nulls skipped): the values ranked,
    the rank offset by the account's number so one running maximum over the column never
    reaches back into an earlier account."""
    rank = x.rank("dense").cast(pl.Int64)
    span = rank.max().fill_null(0) + 1
    best = (pl.col("g").cast(pl.Int64) * span + rank).cum_max().forward_fill()
    values = x.unique().sort(nulls_last=True)  # never empty; the ranks index its values
    return pl.when(best // span == pl.col("g")).then(values.gather((best % span - 1).fill_null(0)))


def _running_min(x: pl.Expr) -> pl.Expr:
    """The smallest ``x`` of the account up to this row (nulls skipped)."""
    rank = x.rank("dense").cast(pl.Int64)
    span = rank.max().fill_null(0) + 1
    flipped = pl.col("g").max() - pl.col("g").cast(pl.Int64)
    best = (flipped * span + rank).cum_min().forward_fill()
    values = x.unique().sort(nulls_last=True)  # never empty; the ranks index its values
    ok = best // span == flipped
    return pl.when(ok).then(values.gather((best % span - 1).fill_null(0)))


def _priors(states: pl.DataFrame, accounts: pl.Series) -> pl.DataFrame:
    """The state of each of ``accounts`` (a new account's initial state where none)."""
    known = states.filter(pl.col(ACC).is_in(accounts.implode()))
    fresh = pl.DataFrame({ACC: accounts}).join(known, on=ACC, how="anti")
    initial = fresh.with_columns(
        pl.lit(0, pl.Int64()).alias(c)
        for c in (
            "last_sequence",
            "events_applied",
            "statement_balance_minor",
            "minimum_due_minor",
            "balance_since_statement_minor",
            "paid_since_statement_minor",
            "cash_advances_this_cycle",
        )
    ).with_columns(
        pl.lit([], pl.List(SPEND)).alias("spend_by_month"),
        pl.lit([], pl.List(RECENT)).alias("recent"),
    )
    return pl.concat([known, initial], how="diagonal_relaxed").select(
        pl.col(c).cast(t) for c, t in STATE_SCHEMA.items()
    )


def _irregular(events: pl.DataFrame, priors: pl.DataFrame, window: dt.timedelta) -> pl.Series:
    """The accounts with an event that happened more than ``window`` before the account's
    latest event applied before it."""
    before = pl.max_horizontal(pl.col("last_occurred_at"), _before(_running_max(pl.col("at"))))
    return (
        _grouped(events.select(ACC, "pos", "at"), priors)
        .join(priors.select(ACC, "last_occurred_at"), on=ACC, how="left")
        .filter(pl.col("at") < before - window)
        .get_column(ACC)
        .unique()
    )


def fold_batch(
    states: pl.DataFrame,
    events: Sequence[Event],
    tz: dt.tzinfo,
    months: int,
    window: dt.timedelta,
    frame: pl.DataFrame | None = None,
    columns_from: int | None = None,
    irregular: Collection[str] | None = None,
) -> Folded:
    """The new states of the accounts of ``events`` (applied in this order) and each event's
    trigger row; ``states`` holds the accounts' states before them (others are new), ``frame``
    the events' ``event_frame`` when the caller has it. A batch of fewer than
    ``columns_from`` events (``COLUMNS_FROM``) is folded event by event (the same result,
    cheaper there). ``irregular``: the accounts ``_irregular`` finds, when the caller has
    already worked them out (the order rule walks the same times)."""
    if not events:
        return Folded(pl.DataFrame(schema=STATE_SCHEMA), pl.DataFrame(schema=TRIGGER_COLUMNS))
    if len(events) < (COLUMNS_FROM if columns_from is None else columns_from):
        accounts = pl.Series(ACC, list(dict.fromkeys(e.account_id for e in events)))
        priors = _priors(states, accounts)
        looped = _fold_each(priors, list(enumerate(events)), tz, months, window)
        return Folded(looped.states, looped.triggers.drop("pos"))
    frame = event_frame(events) if frame is None else frame
    priors = _priors(states, frame.get_column(ACC).unique(maintain_order=True))
    odd = (
        _irregular(frame, priors, window)
        if irregular is None
        else pl.Series(ACC, list(irregular), dtype=pl.String())
    )
    parts = []
    if odd.len():
        mask = pl.col(ACC).is_in(odd.implode())
        unusual = set(odd.to_list())
        each = [(n, e) for n, e in enumerate(events) if e.account_id in unusual]
        parts.append(_fold_each(priors.filter(mask), each, tz, months, window))
        priors, frame = priors.filter(~mask), frame.filter(~mask)
    if frame.height:
        parts.append(_fold_columns(priors, frame, zone_name(tz), months, window))
    if len(parts) == 1:
        return Folded(parts[0].states, parts[0].triggers.drop("pos"))
    return Folded(
        pl.concat([p.states for p in parts]),
        pl.concat([p.triggers for p in parts]).sort("pos").drop("pos"),
    )


def _fold_each(
    priors: pl.DataFrame,
    events: list[tuple[int, Event]],
    tz: dt.tzinfo,
    months: int,
    window: dt.timedelta,
) -> Folded:
    """The per-event fold, for the accounts the columns do not fold (``_irregular``)."""
    states = states_of(priors)
    rows = []
    for pos, event in events:
        state = states.get(event.account_id) or AccountFeatures(event.account_id)
        states[event.account_id] = apply_event(state, event, tz, months, window)
        rows.append({"pos": pos, **state.trigger_row(tz, months)})
    schema = {"pos": pl.Int64(), **TRIGGER_COLUMNS}
    return Folded(states_frame(states.values()), pl.DataFrame(rows, schema=schema))


def _statements(e: pl.DataFrame, zone: str) -> pl.DataFrame:
    """Each event with its day and month (in the issuer's zone), the statement it sees
    (``c_*``, ``c_batch``: one of the batch's) and the running latest time, month range and
    cash advance day."""
    local = pl.col("at").dt.convert_time_zone(zone)
    e = e.with_columns(
        day=local.dt.date(),
        month=pl.when(pl.col("spend") != 0).then(
            local.dt.year().cast(pl.Int32) * 12 + local.dt.month().cast(pl.Int32) - 1
        ),
        s_use_bp=pl.col("s_balance") * BP // pl.col("s_limit"),
        st=pl.when(pl.col("kind") == STATEMENT).then(pl.col("at")),
    )
    before = pl.max_horizontal(pl.col("p_statement_at"), _before(_running_max(pl.col("st"))))
    takes = (pl.col("kind") == STATEMENT) & (before.is_null() | (pl.col("at") > before))
    e = e.with_columns(takes=takes)
    # The row of the statement each event sees (None: the state's).
    e = e.with_columns(seen=_last_given(pl.when(pl.col("takes")).then(pl.col("row"))))
    at_seen = pl.col("seen").fill_null(0)
    seen = [
        pl.when(pl.col("seen").is_not_null())
        .then(pl.col(src).gather(at_seen))
        .otherwise(pl.col(f"p_{dst}"))
        .alias(f"c_{dst}")
        for dst, src in STATEMENT_FIELDS.items()
    ]
    return e.with_columns(
        *seen,
        c_batch=pl.col("seen").is_not_null(),
        latest=pl.max_horizontal(pl.col("p_last_occurred_at"), _running_max(pl.col("at"))),
        latest_before=pl.max_horizontal(
            pl.col("p_last_occurred_at"), _before(_running_max(pl.col("at")))
        ),
        cur=pl.max_horizontal(pl.col("p_max_month"), _running_max(pl.col("month"))),
        first=pl.min_horizontal(pl.col("p_first_month"), _running_min(pl.col("month"))),
        last_cash=pl.max_horizontal(
            pl.col("p_last_cash_advance_on"),
            _running_max(pl.when(pl.col("cash")).then(pl.col("day"))),
        ),
    )


def _items(priors: pl.DataFrame, e: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The accounts' money events (the state's window, then the batch's) and spending by
    month (the state's buckets, then the batch's events); ``ipos`` -1 for the state's."""
    held = (
        priors.select(ACC, "recent")
        .explode("recent")
        .drop_nulls("recent")
        .unnest("recent")
        .rename({"balance": "bal"})
        # Before the batch's, in the order held.
        .with_columns(pos=pl.lit(-1, pl.Int64()), arr=pl.int_range(pl.len()) - pl.len())
    )
    new = e.filter(pl.col("kind") == MONEY).with_columns(arr=pl.col("pos"))
    held, new = (
        frame.select(
            ACC,
            pl.col("pos").alias("ipos"),
            pl.col("at").alias("iat"),
            pl.col("arr").cast(pl.Int64),
            pl.col("bal").alias("ibal"),
            pl.col("paid").alias("ipaid"),
            pl.col("cash").alias("icash"),
            pl.lit(batch).alias("batch"),
        )
        for frame, batch in ((held, False), (new, True))
    )
    buckets = (
        priors.select(ACC, "spend_by_month")
        .explode("spend_by_month")
        .drop_nulls("spend_by_month")
        .unnest("spend_by_month")
        .select(
            ACC,
            pl.lit(-1, pl.Int64()).alias("ipos"),
            pl.col("month").alias("imonth"),
            pl.col("amount").alias("iamt"),
        )
    )
    spent = e.filter(pl.col("month").is_not_null()).select(
        ACC,
        pl.col("pos").alias("ipos"),
        pl.col("month").alias("imonth"),
        pl.col("spend").alias("iamt"),
    )
    return pl.concat([held, new]), pl.concat([buckets, spent])


def _since_statement(e: pl.DataFrame, money: pl.DataFrame) -> pl.DataFrame:
    """Each event with the balance and payments since the statement it sees."""
    counted = (
        e.select("pos", ACC, pl.col("c_statement_at").alias("s"), pl.col("c_batch").alias("fb"))
        .join(money, on=ACC)
        .filter(
            (pl.col("ipos") <= pl.col("pos"))
            & (pl.col("s").is_null() | (pl.col("iat") > pl.col("s")))
            & (pl.col("fb") | pl.col("batch"))
        )
        .group_by("pos")
        .agg(pl.col("ibal").sum().alias("bal_sum"), pl.col("ipaid").sum().alias("paid_sum"))
    )
    e = e.join(counted, on="pos", how="left", maintain_order="left").with_columns(
        pl.col("bal_sum", "paid_sum").fill_null(0)
    )
    held = ~pl.col("c_batch")
    return e.with_columns(
        bal_since=pl.col("bal_sum")
        + pl.when(held).then(pl.col("p_balance_since_statement_minor")).otherwise(0),
        paid_since=pl.col("paid_sum")
        + pl.when(held).then(pl.col("p_paid_since_statement_minor")).otherwise(0),
    )


def _spend_ratio(e: pl.DataFrame, spends: pl.DataFrame, months: int) -> pl.DataFrame:
    """Each event with its month's spending over the average of the months before it, in
    basis points (``AccountFeatures.spend_ratio_bp``)."""
    history = pl.min_horizontal(pl.lit(months), pl.col("cur") - pl.col("first")).cast(pl.Int64)
    keys = e.select("pos", ACC, "cur", "first", history.alias("hist"))
    cur, month = pl.col("cur"), pl.col("imonth")
    sums = (
        keys.join(spends, on=ACC)
        .filter(pl.col("ipos") <= pl.col("pos"))
        .group_by("pos")
        .agg(
            pl.col("iamt").filter(month == cur).sum().alias("spent"),
            pl.col("iamt")
            .filter((month >= cur - pl.col("hist")) & (month < cur))
            .sum()
            .alias("total"),
        )
    )
    keys = keys.join(sums, on="pos", how="left", maintain_order="left")
    usable = (
        pl.col("cur").is_not_null()
        & pl.col("first").is_not_null()
        & (pl.col("hist") > 0)
        & (pl.col("total") > 0)
    )
    ratio = pl.when(usable).then(pl.col("spent") * BP * pl.col("hist") // pl.col("total"))
    return e.with_columns(keys.select(ratio.alias("ratio")).to_series())


def _share(bp: pl.Series) -> pl.Series:
    """Basis points as a share, the float ``bp / BP`` gives: divided by a series of ``BP``,
    as Polars divides a column by a scalar through its reciprocal (a last bit off)."""
    return bp.cast(pl.Float64) / pl.Series([float(BP)] * bp.len())


def _triggers(e: pl.DataFrame, zone: str) -> pl.DataFrame:
    stated = pl.col("c_statement_at").is_not_null()
    limit = pl.col("c_credit_limit_minor")
    use = pl.when(limit.is_not_null() & (limit != 0)).then(
        (pl.col("c_statement_balance_minor") + pl.col("bal_since")) * BP // limit
    )
    as_of = pl.col("latest").dt.convert_time_zone(zone).dt.date()
    unpaid = pl.max_horizontal(pl.col("c_minimum_due_minor") - pl.col("paid_since"), pl.lit(0))
    rows = e.select(
        "pos",
        as_of.alias("as_of"),
        ACC,
        pl.col("c_currency").alias("currency"),
        pl.col("c_statement_at").dt.convert_time_zone(zone).dt.date().alias("cycle_date"),
        pl.col("c_due_date").alias("due_date"),
        pl.when(stated).then(pl.col("c_statement_balance_minor")).alias("statement_balance_minor"),
        pl.when(stated).then(pl.col("c_minimum_due_minor")).alias("minimum_due_minor"),
        pl.when(stated).then(unpaid).alias("unpaid_minimum_minor"),
        use.alias("utilisation"),
        pl.col("ratio").alias("spend_to_6m_average"),
        (as_of - pl.col("last_cash"))
        .dt.total_days()
        .cast(pl.Int32)
        .alias("days_since_cash_advance"),
    )
    return rows.with_columns(_share(rows[c]) for c in ("utilisation", "spend_to_6m_average"))


def _fold_columns(
    priors: pl.DataFrame,
    events: pl.DataFrame,
    zone: str,
    months: int,
    window: dt.timedelta,
) -> Folded:
    priors = priors.with_columns(
        max_month=pl.col("spend_by_month").list.eval(pl.element().struct.field("month")).list.max()
    )
    e = events.join(
        # The lists are read from ``priors`` itself (``_items``), not copied to every event.
        priors.select(ACC, pl.exclude(ACC, "recent", "spend_by_month").name.prefix("p_")),
        on=ACC,
        how="left",
        maintain_order="left",
    )
    e = _statements(_grouped(e, priors), zone)
    money, spends = _items(priors, e)
    e = _since_statement(e, money)
    e = _spend_ratio(e, spends, months)
    states = final_states(e, money, spends, zone, months, window)
    return Folded(states, _triggers(e, zone).sort("pos"))
