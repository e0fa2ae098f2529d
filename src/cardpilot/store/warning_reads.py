"""What ``cardpilot warn run`` reads of the store, one chunk of accounts at a time.

For the accounts of a range (keyset paging in account-id order) of a status that gets
messages: their customers, their statements of the feature window, the payments since their
latest statement (``store.reminder_reads.recent_payments``: the ledger's, and payments never
posted to it), their limit increases and cash advances of the last year, the score each had at
its previous run, the interventions stored for them (the cool-downs' and the cap's
history), and what the events since the latest statement add to the score (the consumer's
running features, ``event_inputs``).

The event consumer scores a batch's accounts from the same tables: ``scoring_frames`` (their
statements, accounts and customers) and ``scores_before`` (the scores of earlier runs, which
a fresh score's change is measured from)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Connection, Engine, bindparam, text

from cardpilot.domain.money import BP
from cardpilot.domain.portfolio import STATEMENT_SCHEMA
from cardpilot.store.account_chunks import ChunkFrames, statement_window_start
from cardpilot.store.frame_reads import keyset_chunks, query_frame
from cardpilot.store.payments import as_zoned
from cardpilot.store.reminder_reads import REMINDED_STATUSES, recent_payments

EVENT_LOOKBACK_DAYS = 366  # limit increases, cash advances and interventions read back a year

_ACCOUNTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "credit_limit_minor": pl.Int64(),
    "open_date": pl.Date(),
    "status": pl.String(),
    "currency": pl.String(),
}
_CUSTOMERS: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "birth_year": pl.Int32(),
    "education": pl.String(),
    "annual_income_minor": pl.Int64(),
}
_PREVIOUS: dict[str, pl.DataType] = {"account_id": pl.String(), "previous_score": pl.Float64()}
_EVENTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "utilisation": pl.Float64(),
    "spend_to_6m_average": pl.Float64(),
}
_HISTORY: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "rule": pl.String(),
    "cycle_date": pl.Date(),
    "fired_on": pl.Date(),
    "kind": pl.String(),
}


@dataclass
class WarningChunk:
    accounts: pl.DataFrame  # the range's accounts of a status that gets messages
    customers: pl.DataFrame
    statements: pl.DataFrame  # STATEMENT_SCHEMA, the feature window up to as_of
    payments: pl.DataFrame  # account_id, paid_on, amount_minor (since two cycles)
    increases: pl.DataFrame  # account_id, increased_on
    cash_advances: pl.DataFrame  # account_id, advanced_on
    previous: pl.DataFrame  # account_id, previous_score (the latest run before as_of)
    history: pl.DataFrame  # account_id, rule, cycle_date, fired_on, sends
    seen: int  # accounts of the range
    # account_id, utilisation, spend_to_6m_average: the running features of accounts whose
    # latest event is on or before as_of
    event_inputs: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=_EVENTS))


def _dates(rows: list[tuple[str, object]], zone: ZoneInfo, name: str) -> pl.DataFrame:
    """``account_id, <name>``: timestamps of the store as days in the issuer's zone."""
    return pl.DataFrame(
        {
            "account_id": [r[0] for r in rows],
            name: [as_zoned(r[1], zone).date() for r in rows],
        },
        schema={"account_id": pl.String(), name: pl.Date()},
    )


def limit_increases(
    conn: Connection, lo: str, hi: str, as_of: dt.date, zone: ZoneInfo
) -> pl.DataFrame:
    """``account_id, increased_on``: the limit increases of the range in the last year."""
    since = dt.datetime.combine(as_of - dt.timedelta(days=EVENT_LOOKBACK_DAYS), dt.time(), zone)
    rows = conn.execute(
        text(
            "SELECT account_id, effective_at FROM limit_history"
            " WHERE account_id BETWEEN :lo AND :hi AND effective_at >= :since"
            " AND old_limit_minor IS NOT NULL AND new_limit_minor > old_limit_minor"
        ),
        {"lo": lo, "hi": hi, "since": since.astimezone(dt.UTC)},
    ).all()
    frame = _dates([(r[0], r[1]) for r in rows], zone, "increased_on")
    return frame.filter(pl.col("increased_on") <= as_of)


def cash_advances(
    conn: Connection, lo: str, hi: str, as_of: dt.date, zone: ZoneInfo
) -> pl.DataFrame:
    """``account_id, advanced_on``: the cash advances of the range in the last year, from the
    ledger (on their business day) and from transactions never posted to it."""
    since_day = as_of - dt.timedelta(days=EVENT_LOOKBACK_DAYS)
    since = dt.datetime.combine(since_day, dt.time(), zone)
    posted = conn.execute(
        text(
            "SELECT account_id, effective_on FROM ledger_postings"
            " WHERE kind = 'cash_advance' AND account_id BETWEEN :lo AND :hi"
            " AND effective_on >= :since AND effective_on <= :as_of"
        ),
        {"lo": lo, "hi": hi, "since": since_day, "as_of": as_of},
    ).all()
    unposted = conn.execute(
        text(
            "SELECT t.account_id, t.posted_at FROM transactions t"
            " WHERE t.kind = 'cash_advance' AND t.account_id BETWEEN :lo AND :hi"
            " AND t.posted_at >= :since AND NOT EXISTS (SELECT 1 FROM ledger_postings p"
            " WHERE p.idempotency_key = 'tx:' || t.transaction_id)"
        ),
        {"lo": lo, "hi": hi, "since": since.astimezone(dt.UTC)},
    ).all()
    ledger = pl.DataFrame(
        {
            "account_id": [r[0] for r in posted],
            "advanced_on": [dt.date.fromisoformat(str(r[1])[:10]) for r in posted],
        },
        schema={"account_id": pl.String(), "advanced_on": pl.Date()},
    )
    other = _dates([(r[0], r[1]) for r in unposted], zone, "advanced_on")
    return pl.concat([ledger, other]).filter(pl.col("advanced_on") <= as_of)


def read_warning_chunks(
    db: Engine, as_of: dt.date, chunk_rows: int, zone: ZoneInfo
) -> Iterator[WarningChunk]:
    """The store's accounts in chunks of ``chunk_rows`` with what the early warning reads."""
    statuses = ", ".join(f"'{s}'" for s in REMINDED_STATUSES)
    columns = ", ".join(f"s.{c}" for c in STATEMENT_SCHEMA)

    def rest(conn: Connection, page: pl.DataFrame, lo: str, hi: str) -> WarningChunk:
        since = as_of - dt.timedelta(days=EVENT_LOOKBACK_DAYS)
        bounds = {"lo": lo, "hi": hi, "as_of": as_of}
        statements = query_frame(
            conn,
            f"SELECT {columns} FROM statements s JOIN accounts a ON a.account_id = s.account_id"
            f" WHERE s.account_id BETWEEN :lo AND :hi AND a.status IN ({statuses})"
            " AND s.cycle_date <= :as_of AND s.cycle_date >= :since",
            {**bounds, "since": statement_window_start(as_of)},
            STATEMENT_SCHEMA,
        )
        customers = query_frame(
            conn,
            "SELECT DISTINCT c.customer_id, c.birth_year, c.education, c.annual_income_minor"
            " FROM customers c JOIN accounts a ON a.customer_id = c.customer_id"
            " WHERE a.account_id BETWEEN :lo AND :hi",
            bounds,
            _CUSTOMERS,
        )
        previous = query_frame(
            conn,
            "SELECT w.account_id, w.score FROM warning_scores w"
            " JOIN (SELECT account_id, MAX(as_of) AS last_on FROM warning_scores"
            " WHERE account_id BETWEEN :lo AND :hi AND as_of < :as_of GROUP BY account_id) p"
            " ON p.account_id = w.account_id AND p.last_on = w.as_of",
            bounds,
            _PREVIOUS,
        )
        history = query_frame(
            conn,
            "SELECT account_id, rule, cycle_date, as_of, kind FROM warning_interventions"
            " WHERE account_id BETWEEN :lo AND :hi AND as_of <= :as_of AND as_of >= :since",
            {**bounds, "since": since},
            _HISTORY,
        )
        return WarningChunk(
            accounts=page.filter(pl.col("status").is_in(REMINDED_STATUSES)),
            customers=customers,
            statements=statements,
            payments=recent_payments(conn, lo, hi, as_of, zone),
            increases=limit_increases(conn, lo, hi, as_of, zone),
            cash_advances=cash_advances(conn, lo, hi, as_of, zone),
            previous=previous,
            history=history.with_columns(sends=pl.col("kind") != "hold_increases").drop("kind"),
            seen=page.height,
            event_inputs=event_inputs(conn, lo, hi, as_of, zone),
        )

    return keyset_chunks(
        db,
        "SELECT account_id, customer_id, credit_limit_minor, open_date, status, currency"
        " FROM accounts WHERE account_id > :after ORDER BY account_id LIMIT :n",
        _ACCOUNTS,
        chunk_rows,
        rest,
    )


def event_inputs(
    conn: Connection, lo: str, hi: str, as_of: dt.date, zone: ZoneInfo
) -> pl.DataFrame:
    """``account_id, utilisation, spend_to_6m_average`` of the range's running features (the
    event consumer's, as its trigger rows give them: basis points over ``BP``), for the
    accounts whose latest event happened on or before ``as_of`` in the issuer's zone (a later
    one would tell the score what was not known that day)."""
    rows = conn.execute(
        text(
            "SELECT account_id, last_occurred_at, utilisation_bp, spend_ratio_bp"
            " FROM event_account_features WHERE account_id BETWEEN :lo AND :hi"
        ),
        {"lo": lo, "hi": hi},
    ).all()
    kept = [r for r in rows if r[1] is not None and as_zoned(r[1], zone).date() <= as_of]

    def share(bp: int | None) -> float | None:
        # Python's division, as the trigger rows make it (Polars divides a column by a scalar
        # through its reciprocal, a last bit off at times).
        return None if bp is None else bp / BP

    return pl.DataFrame(
        {
            "account_id": [r[0] for r in kept],
            "utilisation": [share(r[2]) for r in kept],
            "spend_to_6m_average": [share(r[3]) for r in kept],
        },
        schema=_EVENTS,
    )


_SCORING_STATEMENTS = text(
    f"SELECT {', '.join(STATEMENT_SCHEMA)} FROM statements"
    " WHERE account_id IN :ids AND cycle_date >= :since"
).bindparams(bindparam("ids", expanding=True))
_SCORING_ACCOUNTS = text(
    "SELECT account_id, customer_id, credit_limit_minor, open_date, status, currency"
    " FROM accounts WHERE account_id IN :ids ORDER BY account_id"
).bindparams(bindparam("ids", expanding=True))
_SCORING_CUSTOMERS = text(
    "SELECT DISTINCT c.customer_id, c.birth_year, c.education, c.annual_income_minor"
    " FROM customers c JOIN accounts a ON a.customer_id = c.customer_id"
    " WHERE a.account_id IN :ids"
).bindparams(bindparam("ids", expanding=True))
_IN_CHUNK = 5_000


def scoring_frames(conn: Connection, account_ids: list[str], as_of: dt.date) -> ChunkFrames:
    """What the early-warning features read of ``account_ids`` (as ``read_warning_chunks``
    gives it to ``cardpilot warn run``): their statements from the feature window of
    ``as_of`` on (later ones too: the features take those up to each day they are asked
    for), their accounts in account-id order and their customers."""
    since = statement_window_start(as_of)
    parts: dict[str, list[pl.DataFrame]] = {"s": [], "a": [], "c": []}
    ids = sorted(set(account_ids))
    for start in range(0, len(ids), _IN_CHUNK):
        part = {"ids": ids[start : start + _IN_CHUNK]}
        parts["s"].append(
            query_frame(conn, _SCORING_STATEMENTS, {**part, "since": since}, STATEMENT_SCHEMA)
        )
        parts["a"].append(query_frame(conn, _SCORING_ACCOUNTS, part, _ACCOUNTS))
        parts["c"].append(query_frame(conn, _SCORING_CUSTOMERS, part, _CUSTOMERS))
    empty = {"s": STATEMENT_SCHEMA, "a": _ACCOUNTS, "c": _CUSTOMERS}
    frames = {k: pl.concat(v) if v else pl.DataFrame(schema=empty[k]) for k, v in parts.items()}
    return ChunkFrames(statements=frames["s"], accounts=frames["a"], customers=frames["c"])


_SCORES_BEFORE = text(
    "SELECT w.account_id, w.as_of, w.score FROM warning_scores w"
    " WHERE w.account_id IN :ids AND w.as_of >= COALESCE("
    "(SELECT MAX(p.as_of) FROM warning_scores p WHERE p.account_id = w.account_id"
    " AND p.as_of < :first), :first)"
).bindparams(bindparam("ids", expanding=True))


def scores_before(conn: Connection, account_ids: list[str], first: dt.date) -> pl.DataFrame:
    """``account_id, scored_on, previous_score``: the stored scores of ``account_ids`` that
    can be the latest run before a day from ``first`` on (the latest before ``first`` and
    every later one)."""
    schema = {"account_id": pl.String(), "scored_on": pl.Date(), "previous_score": pl.Float64()}
    ids = sorted(set(account_ids))
    parts = [
        query_frame(
            conn, _SCORES_BEFORE, {"ids": ids[start : start + _IN_CHUNK], "first": first}, schema
        )
        for start in range(0, len(ids), _IN_CHUNK)
    ]
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)
