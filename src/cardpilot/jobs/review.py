"""The periodic limit review over the store (issue #5 item 4).

    store ─(account-id chunks)─► features ─► score ─► decide_limits ─► persist ─► export

Memory stays bounded by the chunk: accounts are read in account-id order (keyset paging), with
only the statements the six-cycle window needs. Each chunk is one transaction that inserts the
decisions (``INSERT … ON CONFLICT (account_id, cycle_id) DO NOTHING``), writes the limit-history
rows, updates the accounts (limit, grade, segment, review date), starts the watches after large
increases and adds to the run's counts. The limit changes are applied from the decisions *this
run inserted* (a set-based ``UPDATE … FROM limit_decisions WHERE run_id = …``), so a decision
made by another run is never applied twice. A run killed at any point (kill -9) leaves whole
chunks; the next run of the cycle skips the accounts already decided and finishes the rest.

The review cycle is the half-year (``2005-H2``) for ``review.cycle_months: 6`` and the year for
12: accounts already decided in the cycle are skipped. The policy and the accounts must be in
the same currency (the engine does not convert); a mismatch is an error naming the fix.

The decision itself is ``cardpilot.policy.limits.decide_limits`` in every engine: in-process
(``engine="local"``) or on Spark (``engine="spark"``, ``mapInArrow`` via
``cardpilot.engines.spark.review_spark``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import io
import itertools
import json
import os
import queue
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import polars as pl
from sqlalchemy import Connection, DateTime, Engine, TextClause, bindparam, text

from cardpilot.domain.decisions import LimitAction
from cardpilot.jobs.review_bulk import TEXT_SETS_INSERT, tally
from cardpilot.policy.limits import ReasonTexts, decide_limits
from cardpilot.policy.loading import load_policy
from cardpilot.policy.schema import Policy
from cardpilot.store.db import is_sqlite, make_engine, upgrade
from cardpilot.store.review_models import TEXT_SETS_JOIN, cycle_decisions, decision_texts

EngineName = Literal["local", "spark"]
ENGINES: tuple[str, ...] = ("local", "spark")
DEFAULT_CHUNK_ROWS = 100_000
REVIEWED_STATUSES = ("active", "frozen")  # closed and charged-off accounts are not reviewed
# Test hook (crash safety): "after:N" kills the process with SIGKILL after N committed chunks,
# "before_commit:N" inside the N-th chunk's transaction, after its decisions were written.
KILL_HOOK_ENV = "CARDPILOT_TEST_KILL_REVIEW"

# (accounts done, accounts in the store)
ProgressCallback = Callable[[int, int], None]


class Scorer(Protocol):
    """What the review needs of a model (docs/CONTRACTS.md "Scores")."""

    def score(self, features: pl.DataFrame) -> pl.DataFrame: ...


class ReviewError(ValueError):
    """The review cannot run as asked: says what is wrong and what to do."""


@dataclass
class ReviewResult:
    run_id: int
    cycle_id: str
    as_of: dt.date
    engine: str
    policy_version: str
    model_version: str | None
    decided: int = 0  # by this run
    skipped: int = 0  # already decided in the cycle by an earlier run
    watched: int = 0
    flags: int = 0
    seconds: float = 0.0
    # Whole cycle (this run and any earlier, interrupted one)
    by_action: dict[str, int] = field(default_factory=dict)
    by_grade: dict[str, int] = field(default_factory=dict)
    by_segment: dict[str, int] = field(default_factory=dict)
    cycle_decisions: int = 0
    out: str | None = None
    # Where the time went: waiting for the store (read), features + score, decide, persist.
    stage_seconds: dict[str, float] = field(default_factory=dict)
    # This run's decisions by (action, grade, segment), as the chunks were written.
    run_kinds: Counter[tuple[Any, Any, Any]] = field(default_factory=Counter, repr=False)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("run_kinds")
        return out


# Decisions by (action, grade, segment); a chunk's write returns (inserted, watched, kinds).
Kinds = dict[tuple[Any, Any, Any], int]
Written = tuple[int, int, Kinds]


# --------------------------------------------------------------------------- the cycle


def review_cycle_id(as_of: dt.date, cycle_months: int) -> str:
    """The review cycle an as-of date falls in: ``2005-H2`` (6 months) or ``2005`` (12)."""
    if cycle_months == 12:
        return f"{as_of.year}"
    return f"{as_of.year}-H{1 if as_of.month <= 6 else 2}"


def default_as_of(db: Engine) -> dt.date:
    """The day after the latest statement cycle in the store."""
    with db.connect() as conn:
        latest = conn.execute(text("SELECT MAX(cycle_date) FROM statements")).scalar()
    if latest is None:
        raise ReviewError("the store has no statements; import a portfolio first")
    if isinstance(latest, str):
        latest = dt.date.fromisoformat(latest[:10])
    assert isinstance(latest, dt.date)
    return latest + dt.timedelta(days=1)


def _months_before(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def months_after(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months later (clamped to the month's end)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- reading


_ACCOUNT_COLUMNS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "credit_limit_minor": pl.Int64(),
    "open_date": pl.Date(),
    "status": pl.String(),
    "currency": pl.String(),
    "last_review_on": pl.Date(),
    "birth_year": pl.Int32(),
    "education": pl.String(),
    "annual_income_minor": pl.Int64(),
}
_STATEMENT_COLUMNS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "cycle_date": pl.Date(),
    "credit_limit_minor": pl.Int64(),
    "statement_balance_minor": pl.Int64(),
    "minimum_due_minor": pl.Int64(),
    "amount_paid_minor": pl.Int64(),
    "purchases_minor": pl.Int64(),
    "cash_advances_minor": pl.Int64(),
    "repayment_status": pl.Int16(),
    "days_past_due": pl.Int32(),
}
# What the review reads of a statement: the behaviour features' columns (``minimum_due`` is
# not one of them; the watch rules read it themselves).
_REVIEW_STATEMENT_COLUMNS: dict[str, pl.DataType] = {
    name: dtype for name, dtype in _STATEMENT_COLUMNS.items() if name != "minimum_due_minor"
}


def query_frame(
    conn: Connection,
    sql: str | TextClause,
    params: Mapping[str, Any],
    schema: Mapping[str, pl.DataType],
) -> pl.DataFrame:
    """Run ``sql`` and return its rows as a frame of ``schema``.

    The bulk reads of the review skip SQLAlchemy's row layer: on SQLite the driver's cursor
    (``:name`` parameters are native there), on PostgreSQL ``COPY (query) TO STDOUT`` read by
    Polars' CSV reader, so the server formats the rows on its own core.
    """
    if isinstance(sql, str) and conn.dialect.name == "sqlite":
        return _sqlite_frame(conn, sql, params, schema)
    if isinstance(sql, str) and conn.dialect.name == "postgresql":
        return _postgres_frame(conn, sql, params, schema)
    statement = text(sql) if isinstance(sql, str) else sql
    rows = conn.execute(statement, dict(params)).fetchall()
    sqlite = conn.dialect.name == "sqlite"
    return _rows_frame([tuple(r) for r in rows], schema, dates_as_text=sqlite)


def _rows_frame(
    rows: list[tuple[Any, ...]], schema: Mapping[str, pl.DataType], *, dates_as_text: bool
) -> pl.DataFrame:
    raw = {n: pl.String() if (t == pl.Date() and dates_as_text) else t for n, t in schema.items()}
    frame = pl.DataFrame(rows, schema=raw, orient="row", infer_schema_length=None)
    if dates_as_text:
        dates = [n for n, t in schema.items() if t == pl.Date()]
        frame = frame.with_columns(pl.col(n).str.slice(0, 10).str.to_date() for n in dates)
    return frame


def _sqlite_frame(
    conn: Connection, sql: str, params: Mapping[str, Any], schema: Mapping[str, pl.DataType]
) -> pl.DataFrame:
    values = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in params.items()}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        rows = cursor.execute(sql, values).fetchall()
    finally:
        cursor.close()
    return _rows_frame(rows, schema, dates_as_text=True)


_PARAM = re.compile(r"(?<![:\w]):(\w+)")


def _postgres_frame(
    conn: Connection, sql: str, params: Mapping[str, Any], schema: Mapping[str, pl.DataType]
) -> pl.DataFrame:
    query = _PARAM.sub(lambda m: f"%({m.group(1)})s", sql)
    buffer = io.BytesIO()
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)", dict(params)) as copy:
            for block in copy:
                buffer.write(block)
    finally:
        cursor.close()
    if buffer.tell() == 0:
        return pl.DataFrame(schema=dict(schema))
    buffer.seek(0)
    raw = {n: pl.String() if t in (pl.Date(), pl.Boolean()) else t for n, t in schema.items()}
    frame = pl.read_csv(buffer, has_header=False, new_columns=list(schema), schema=raw)
    fixes = []
    for name, dtype in schema.items():
        if dtype == pl.Date():
            fixes.append(pl.col(name).str.to_date())
        elif dtype == pl.Boolean():
            fixes.append(pl.col(name) == "t")
    return frame.with_columns(fixes) if fixes else frame


@dataclass(frozen=True)
class _Frames:
    """The three frames of docs/CONTRACTS.md for one chunk of accounts."""

    statements: pl.DataFrame
    accounts: pl.DataFrame
    customers: pl.DataFrame


@dataclass
class _Chunk:
    first: str
    last: str
    accounts: pl.DataFrame  # accounts to decide (not yet decided in the cycle)
    frames: _Frames
    skipped: int
    seen: int


Fetch = Callable[[str, Mapping[str, Any], Mapping[str, pl.DataType]], pl.DataFrame]


def _read_chunks(
    db: Engine,
    as_of: dt.date,
    cycle_id: str,
    chunk_rows: int,
    helper: Any = None,
    total: int | None = None,
) -> Generator[_Chunk, None, None]:
    """Accounts in account-id order, ``chunk_rows`` at a time, with their window's statements.

    On file stores the reads go through one ADBC connection (Arrow batches, no Python rows),
    its read transaction ended after each chunk; in-memory SQLite keeps SQLAlchemy's driver.
    """
    from cardpilot.store.bulk import bulk_connection, supports_bulk

    sqlite = db.dialect.name == "sqlite"
    job: dict[str, Any] = {
        "as_of": as_of,
        "cycle_id": cycle_id,
        "chunk_rows": chunk_rows,
        "total": total,
    }
    if supports_bulk(db.url) and sqlite:
        from cardpilot.jobs.review_bulk import remote_chunks

        yield from remote_chunks(db.url.render_as_string(hide_password=False), helper, **job)
        return
    if supports_bulk(db.url):
        from cardpilot.jobs.review_bulk import bulk_frame, prepare_reader

        with bulk_connection(db.url) as conn:
            prepare_reader(conn)

            def fetch(
                sql: str, params: Mapping[str, Any], schema: Mapping[str, pl.DataType]
            ) -> pl.DataFrame:
                return bulk_frame(conn, sql, params, schema)

            yield from read_chunks_with(fetch, conn.rollback, sqlite, **job)
        return

    def fetch_sa(
        sql: str, params: Mapping[str, Any], schema: Mapping[str, pl.DataType]
    ) -> pl.DataFrame:
        with db.connect() as sa_conn:
            return query_frame(sa_conn, sql, params, schema)

    yield from read_chunks_with(fetch_sa, lambda: None, sqlite, **job)


# Chunks of at least this many accounts ramp up at the start (a quarter, then a half of the
# chunk size) and down at the end (a half, then a quarter): nothing else can run while the
# first chunk is read, nor while the last one is written.
RAMP_FROM_ROWS = 20_000


def chunk_sizes(chunk_rows: int, total: int | None = None) -> Iterator[int]:
    """The sizes of the review's chunks, in order: ``chunk_rows`` each, ramped
    (``RAMP_FROM_ROWS``) when the chunks are large; ``total``: the accounts expected (the
    sizes go on at ``chunk_rows`` past it, should there be more)."""
    if chunk_rows >= RAMP_FROM_ROWS:
        up = [chunk_rows // 4, chunk_rows // 2]
        down = [chunk_rows // 2, chunk_rows // 4]
        yield from up
        if total is not None:
            # Full chunks, then what is left before the ramp down (less than a full one).
            full, rest = divmod(max(total - sum(up) - sum(down), 0), chunk_rows)
            yield from itertools.repeat(chunk_rows, full)
            if rest:
                yield rest
            yield from down
    yield from itertools.repeat(chunk_rows)


def read_chunks_with(
    fetch: Fetch,
    end_read: Callable[[], None],
    sqlite: bool,
    *,
    as_of: dt.date,
    cycle_id: str,
    chunk_rows: int,
    total: int | None = None,
) -> Iterator[_Chunk]:
    """The chunks of ``_read_chunks`` through ``fetch`` (a query as a frame); ``end_read``
    ends the read transaction after each chunk; ``total``: the accounts expected."""
    since = _months_before(as_of, 8)  # six cycles and the one before (payment ratio), margin
    # SQLite would pick the cycle_id index (every decision of the cycle) over the unique
    # (account_id, cycle_id) one; "+" keeps it on the account range.
    cycle_col = "+cycle_id" if sqlite else "cycle_id"
    last_change = (
        "MAX(effective_at)" if sqlite else "CAST(MAX(effective_at) AT TIME ZONE 'UTC' AS DATE)"
    )
    after = ""
    sizes = chunk_sizes(chunk_rows, total)
    while True:
        accounts = fetch(
            "SELECT a.account_id, a.customer_id, a.credit_limit_minor, a.open_date, a.status,"
            " a.currency, a.last_review_on, c.birth_year, c.education, c.annual_income_minor"
            " FROM accounts a LEFT JOIN customers c ON c.customer_id = a.customer_id"
            " WHERE a.account_id > :after ORDER BY a.account_id LIMIT :n",
            {"after": after, "n": next(sizes)},
            _ACCOUNT_COLUMNS,
        )
        if accounts.height == 0:
            end_read()
            return
        first, last = accounts["account_id"][0], accounts["account_id"][-1]
        bounds = {"lo": first, "hi": last}
        decided = fetch(
            f"SELECT account_id FROM limit_decisions WHERE {cycle_col} = :cycle"
            " AND account_id BETWEEN :lo AND :hi",
            {"cycle": cycle_id, **bounds},
            {"account_id": pl.String()},
        )
        pending = accounts.filter(pl.col("status").is_in(REVIEWED_STATUSES)).join(
            decided, on="account_id", how="anti"
        )
        statements = pl.DataFrame(schema=_REVIEW_STATEMENT_COLUMNS)
        changes = pl.DataFrame(
            schema={"account_id": pl.String(), "last_limit_change_on": pl.Date()}
        )
        if pending.height:
            statements = fetch(
                f"SELECT {', '.join(_REVIEW_STATEMENT_COLUMNS)} FROM statements"
                " WHERE account_id BETWEEN :lo AND :hi"
                " AND cycle_date <= :as_of AND cycle_date >= :since",
                {**bounds, "as_of": as_of, "since": since},
                _REVIEW_STATEMENT_COLUMNS,
            )
            changes = fetch(
                f"SELECT account_id, {last_change} FROM limit_history"
                " WHERE account_id BETWEEN :lo AND :hi GROUP BY account_id",
                bounds,
                {"account_id": pl.String(), "last_limit_change_on": pl.Date()},
            )
        end_read()  # no read transaction held while the chunk is decided and written
        after = last
        pending = pending.join(changes, on="account_id", how="left")
        if decided.height or pending.height < accounts.height:
            statements = statements.join(pending.select("account_id"), on="account_id", how="semi")
        frames = _Frames(
            statements=statements,
            accounts=pending.select(
                "account_id", "customer_id", "credit_limit_minor", "open_date", "status", "currency"
            ),
            customers=pending.select(
                "customer_id", "birth_year", "education", "annual_income_minor"
            ).unique("customer_id"),
        )
        yield _Chunk(
            first=first,
            last=last,
            accounts=pending,
            frames=frames,
            skipped=accounts.height - pending.height,
            seen=accounts.height,
        )


def _prefetched(chunks: Iterator[_Chunk]) -> Iterator[_Chunk]:
    """Read the next chunk on a thread while the current one is scored, decided and written.

    The database driver waits for I/O and SQLite's or PostgreSQL's own work without the GIL,
    so reading overlaps with the rest; at most two chunks are in memory. Chunks are disjoint
    account ranges, so reading one while the previous one commits sees nothing half-done.
    When the consumer stops early (an error), the reader stops too and closes its connection.
    """
    done = object()
    stop = threading.Event()
    slot: queue.Queue[Any] = queue.Queue(maxsize=1)

    def produce() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    break
                slot.put(chunk)
        except BaseException as exc:  # handed to the consumer, raised there
            slot.put(exc)
            return
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        slot.put(done)

    reader = threading.Thread(target=produce, name="review-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = slot.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while reader.is_alive():
            with contextlib.suppress(queue.Empty):
                slot.get(timeout=0.05)
        reader.join()


# --------------------------------------------------------------------------- scoring


def scored_features(chunk: _Chunk, scorer: Scorer, as_of: dt.date) -> pl.DataFrame:
    """Features and scores of a chunk, one row per pending account (no statements: no score)."""
    from cardpilot.scoring.features import behaviour_features

    features = behaviour_features(chunk.frames, as_of)
    scores = scorer.score(features) if features.height else pl.DataFrame()
    keep = ["account_id", "score", "pd", "reason_codes", "model_version"]
    if scores.height:
        features = features.join(scores.select(keep), on="account_id", how="left")
    accounts = chunk.accounts.select(
        "account_id",
        "credit_limit_minor",
        "last_review_on",
        "last_limit_change_on",
        "annual_income_minor",
    )
    drop = [c for c in ("credit_limit_minor", "annual_income_minor") if c in features.columns]
    # The account's current limit (what the review changes) and income come from the store.
    return accounts.join(features.drop(drop), on="account_id", how="left")


# A cycle id no review writes (``review_cycle_id`` gives "YYYY-H1" and the like): reading with
# it skips no account as already decided.
_NO_CYCLE = "-"


def portfolio_scores(
    db: Engine,
    scorer: Scorer,
    as_of: dt.date,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    limit: int | None = None,
) -> pl.DataFrame:
    """``account_id``, ``score`` and ``pd`` of the accounts a review grades (the reviewed
    statuses, scored on their statements up to ``as_of``), read and scored exactly as the review
    reads and scores them; ``limit``: only the first so many of them in account order.
    Accounts without a statement in the window have a null score."""
    parts: list[pl.DataFrame] = []
    taken = 0
    chunks = _read_chunks(db, as_of, _NO_CYCLE, chunk_rows)
    try:
        for chunk in chunks:
            scored = scored_features(chunk, scorer, as_of)
            parts.append(scored.select("account_id", "score", "pd"))
            taken += scored.height
            if limit is not None and taken >= limit:
                break
    finally:
        chunks.close()  # stops the reader (its helper process on SQLite)
    schema = pl.Schema({"account_id": pl.String(), "score": pl.Float64(), "pd": pl.Float64()})
    if not parts:
        return pl.DataFrame(schema=schema)
    frame = pl.concat(parts, how="vertical_relaxed").cast(schema)
    return frame if limit is None else frame.head(limit)


def score_reason_texts(codes: Sequence[str], known: dict[str, dict[str, str]]) -> ReasonTexts:
    """zh-CN and en texts of the score's own reason codes (``cardpilot.scoring.reasons``)."""
    missing = [c for c in codes if c not in known]
    if missing:
        try:
            from cardpilot.scoring.reasons import reason_text
        except ImportError:  # scoring without texts: the engine shows the code itself
            return known
        for code in missing:
            try:
                known[code] = {loc: str(reason_text(code, loc)) for loc in ("zh-CN", "en")}
            except KeyError:  # a code without a text is shown as the code itself
                known[code] = {"zh-CN": code, "en": code}
    return known


# --------------------------------------------------------------------------- deciding


class _Decider:
    """Decides one scored chunk with the chosen engine; both call ``decide_limits``."""

    def __init__(self, engine: EngineName, policy: Policy, as_of: dt.date, spark: Any = None):
        self.engine = engine
        self.policy = policy
        self.as_of = as_of
        self.spark = spark
        if engine == "spark" and spark is None:
            from cardpilot.engines.spark import local_spark_session

            self.spark = local_spark_session()

    def __call__(self, table: pl.DataFrame, texts: ReasonTexts) -> pl.DataFrame:
        if self.engine == "local":
            return decide_limits(table, self.policy, self.as_of, reason_texts=texts)
        from cardpilot.engines.spark import review_spark
        from cardpilot.policy.limits import DECISION_SCHEMA, input_columns

        wanted = input_columns(self.policy.limits)
        arrow = table.select([c for c in table.columns if c in wanted]).to_arrow()
        # Spark's Arrow bridge takes plain string / list<string>, not the large variants.
        arrow = arrow.cast(_plain_arrow_schema(arrow.schema))
        frame = self.spark.createDataFrame(arrow)
        decided = review_spark(frame, self.policy, self.as_of, reason_texts=texts).toArrow()
        out = pl.from_arrow(decided)
        assert isinstance(out, pl.DataFrame)
        out = out.select([pl.col(n).cast(t) for n, t in DECISION_SCHEMA.items()])
        # Spark does not keep row order; the local engine does: compare by account.
        return table.select("account_id").join(out, on="account_id", how="left")


def _plain_arrow_schema(schema: Any) -> Any:
    import pyarrow as pa

    fields = []
    for f in schema:
        t = f.type
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            t = pa.string()
        elif pa.types.is_large_list(t) or pa.types.is_list(t):
            t = pa.list_(pa.string())
        fields.append(pa.field(f.name, t))
    return pa.schema(fields)


# --------------------------------------------------------------------------- persisting


def _json_array(name: str) -> pl.Expr:
    """A list-of-strings column as JSON array text, vectorised (no per-row ``json.dumps``)."""
    escaped = (
        pl.element()
        .str.replace_all("\\", "\\\\", literal=True)
        .str.replace_all('"', '\\"', literal=True)
        .str.replace_all("\n", "\\n", literal=True)
    )
    joined = pl.col(name).list.eval(escaped).list.join('","')
    empty = pl.col(name).is_null() | (pl.col(name).list.len() == 0)
    return pl.when(empty).then(pl.lit("[]")).otherwise(pl.lit('["') + joined + pl.lit('"]'))


_DECISION_INSERT_COLUMNS = (
    "run_id",
    "cycle_id",
    "account_id",
    "as_of",
    "due_for_review",
    "grade",
    "segment",
    "action",
    "score",
    "pd",
    "old_limit_minor",
    "new_limit_minor",
    "increase_pct_bp",
    "consecutive_overdue_months",
    "reason_codes",
    "reason_texts_zh",
    "reason_texts_en",
    "reason_texts_id",
    "policy_version",
    "model_version",
)


_REASON_COLUMNS = ("reason_codes", "reason_texts_zh", "reason_texts_en")
_TEXT_COLUMNS = ["reason_texts_zh", "reason_texts_en"]
# A decision's texts (zh-CN, en JSON arrays) by the id of their set (reason_text_sets).
TextSets = dict[str, tuple[str, str]]


def reason_texts_id(texts_zh: str, texts_en: str) -> str:
    """The id of a text set: the first 128 bits of SHA-256 over its two JSON arrays, in hex.

    A JSON array's text holds no raw newline (``_json_array`` escapes it), so the newline
    between the two is unambiguous: equal texts give one id, different texts different ones.
    """
    return hashlib.sha256(f"{texts_zh}\n{texts_en}".encode()).hexdigest()[:32]


def _decision_frame(
    decisions: pl.DataFrame, run_id: int, cycle_id: str
) -> tuple[pl.DataFrame, TextSets]:
    """The chunk's decision rows and the text sets they refer to (``reason_text_sets``).

    A chunk holds few distinct reason lists (about a hundred in 100,000 decisions): each is
    written as JSON once, and only its codes and its set's id are joined back to the rows.
    """
    keys = list(_REASON_COLUMNS)
    distinct = decisions.select(keys).unique(maintain_order=True)
    as_json = distinct.select(_json_array(c).alias(c) for c in keys)
    pairs = list(as_json.select(_TEXT_COLUMNS).iter_rows())
    ids = [reason_texts_id(zh, en) for zh, en in pairs]
    sets: TextSets = dict(zip(ids, pairs, strict=True))
    keyed = distinct.with_columns(
        as_json["reason_codes"].alias("__codes"), pl.Series("reason_texts_id", ids, dtype=pl.String)
    )
    rows = decisions.join(keyed, on=keys, how="left", nulls_equal=True, maintain_order="left")
    return (
        rows.with_columns(
            pl.col("__codes").alias("reason_codes"),
            pl.lit(run_id, dtype=pl.Int64).alias("run_id"),
            pl.lit(cycle_id).alias("cycle_id"),
            # The texts are the set's; the decision's own columns stay empty (migration 0013).
            *(pl.lit("").alias(c) for c in _TEXT_COLUMNS),
        ).select(_DECISION_INSERT_COLUMNS),
        sets,
    )


def _insert_decisions(conn: Connection, frame: pl.DataFrame, sets: TextSets) -> None:
    """The chunk's text sets, then ``INSERT … ON CONFLICT (account_id, cycle_id) DO NOTHING``
    of its decisions: ``executemany`` on SQLite, ``COPY`` into a staging table and one
    ``INSERT … SELECT`` on PostgreSQL (the import's loader does the same)."""
    if sets:
        conn.execute(
            text(TEXT_SETS_INSERT), [{"id": k, "zh": zh, "en": en} for k, (zh, en) in sets.items()]
        )
    cols = ", ".join(_DECISION_INSERT_COLUMNS)
    conflict = " ON CONFLICT (account_id, cycle_id) DO NOTHING"
    if conn.dialect.name == "sqlite":
        rows = frame.with_columns(  # the text and 0/1 SQLAlchemy's SQLite types store
            pl.col("as_of").cast(pl.String), pl.col("due_for_review").cast(pl.Int8)
        ).rows()
        marks = ", ".join(["?"] * len(_DECISION_INSERT_COLUMNS))
        conn.exec_driver_sql(
            f"INSERT INTO limit_decisions ({cols}) VALUES ({marks}){conflict}",
            rows,
        )
        return
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS stage_limit_decisions ON COMMIT DELETE ROWS AS"
        f" SELECT {cols} FROM limit_decisions WITH NO DATA"
    )
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY stage_limit_decisions ({cols}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(frame.write_csv(include_header=False))
    finally:
        cursor.close()
    conn.exec_driver_sql(
        f"INSERT INTO limit_decisions ({cols}) SELECT {cols} FROM stage_limit_decisions{conflict}"
    )


_HISTORY = (
    "INSERT INTO limit_history (account_id, effective_at, old_limit_minor, new_limit_minor,"
    " source, decision_id, policy_version, model_version, note)"
    " SELECT account_id, :effective_at, old_limit_minor, new_limit_minor, 'review',"
    " CAST(id AS VARCHAR(64)), policy_version, model_version, action"
    " FROM limit_decisions WHERE run_id = :run AND account_id BETWEEN :lo AND :hi"
    " AND action <> 'keep'"
)
_HISTORY_SQL = text(_HISTORY).bindparams(bindparam("effective_at", type_=DateTime(timezone=True)))

_ACCOUNTS = (
    "UPDATE accounts SET credit_limit_minor = d.new_limit_minor, grade = d.grade,"
    " segment = d.segment,"
    " last_review_on = CASE WHEN d.due_for_review THEN d.as_of ELSE accounts.last_review_on END"
    " FROM limit_decisions d WHERE d.account_id = accounts.account_id AND d.run_id = :run"
    " AND d.account_id BETWEEN :lo AND :hi"
)
_ACCOUNTS_SQL = text(_ACCOUNTS)

_COUNTS = (
    "UPDATE review_runs SET decided = decided + :decided, skipped = skipped + :skipped,"
    " increases = increases + :inc, keeps = keeps + :keep, decreases = decreases + :dec,"
    " watched = watched + :watched WHERE id = :run"
)
_COUNTS_SQL = text(_COUNTS)


def _kill_hook() -> tuple[str, int] | None:
    value = os.environ.get(KILL_HOOK_ENV)
    if not value:
        return None
    when, _, n = value.partition(":")
    return when, int(n)


def _persist_chunk(
    db: Engine,
    decisions: pl.DataFrame,
    chunk: _Chunk,
    *,
    run_id: int,
    cycle_id: str,
    policy: Policy,
    as_of: dt.date,
    chunk_no: int,
    notify: bool = True,
    writer: Any = None,
) -> Written:
    """Decisions, limit history, accounts, watches, notices and run counts of one chunk: one
    transaction. Returns (decisions inserted, watches started, decisions inserted by kind).

    ``writer``: an ADBC connection (``cardpilot.store.bulk``) that does the whole chunk in
    its own transaction; None: the SQLAlchemy engine does.
    """
    from cardpilot.jobs.watch import start_watches

    rows, sets = _decision_frame(decisions, run_id, cycle_id)
    bounds: dict[str, Any] = {"run": run_id, "lo": chunk.first, "hi": chunk.last}
    effective = dt.datetime.combine(as_of, dt.time(), tzinfo=dt.UTC)
    hook = _kill_hook()
    if writer is not None:
        return _persist_chunk_bulk(
            db, writer, rows, sets, chunk, bounds, effective, policy, as_of, chunk_no, notify, hook
        )
    with db.begin() as conn:
        if rows.height:
            _insert_decisions(conn, rows, sets)
        by_kind: Kinds = {
            (a, g, s): int(n)
            for a, g, s, n in conn.execute(
                text(
                    "SELECT action, grade, segment, COUNT(*) FROM limit_decisions"
                    " WHERE run_id = :run AND account_id BETWEEN :lo AND :hi"
                    " GROUP BY action, grade, segment"
                ),
                bounds,
            ).all()
        }
        counts = tally(by_kind, 0)
        conn.execute(_HISTORY_SQL, {**bounds, "effective_at": effective})
        conn.execute(_ACCOUNTS_SQL, bounds)
        watched = start_watches(conn, policy, as_of, run=run_id, lo=chunk.first, hi=chunk.last)
        if notify:
            _queue_notices(conn, run_id, chunk.first, chunk.last)
        inserted = int(sum(counts.values()))
        if hook and hook == ("before_commit", chunk_no):
            os.kill(os.getpid(), signal.SIGKILL)
        conn.execute(
            _COUNTS_SQL,
            {
                "run": run_id,
                "decided": inserted,
                "skipped": chunk.skipped + (rows.height - inserted),
                "inc": int(counts.get(LimitAction.INCREASE.value, 0)),
                "keep": int(counts.get(LimitAction.KEEP.value, 0)),
                "dec": int(counts.get(LimitAction.DECREASE.value, 0)),
                "watched": watched,
            },
        )
    if hook and hook == ("after", chunk_no):
        os.kill(os.getpid(), signal.SIGKILL)
    return inserted, watched, by_kind


def _persist_chunk_bulk(
    db: Engine,
    writer: Any,
    rows: pl.DataFrame,
    sets: TextSets,
    chunk: _Chunk,
    bounds: dict[str, Any],
    effective: dt.datetime,
    policy: Policy,
    as_of: dt.date,
    chunk_no: int,
    notify: bool,
    hook: tuple[str, int] | None,
) -> Written:
    """``_persist_chunk`` on ADBC (``cardpilot.jobs.review_bulk``): the same statements, the
    notices included, in one transaction."""
    from cardpilot.jobs import review_bulk
    from cardpilot.jobs.watch import start_watches_statement

    watches_sql, watches_params = start_watches_statement(
        policy, as_of, run=bounds["run"], lo=chunk.first, hi=chunk.last
    )
    spec = review_bulk.ChunkWrite(
        columns=_DECISION_INSERT_COLUMNS,
        text_sets=sets,
        bounds=bounds,
        history_sql=_HISTORY,
        accounts_sql=_ACCOUNTS,
        counts_sql=_COUNTS,
        watches_sql=watches_sql,
        watches_params=watches_params,
        effective=effective,
        skipped=chunk.skipped,
    )

    def render(changed: pl.DataFrame) -> Any:
        return review_bulk.outbox_rows(db, changed)

    def before_commit() -> None:
        if hook and hook == ("before_commit", chunk_no):
            os.kill(os.getpid(), signal.SIGKILL)

    written = review_bulk.persist_chunk(
        writer, rows, spec, render_notices=render if notify else None, before_commit=before_commit
    )
    if hook and hook == ("after", chunk_no):
        os.kill(os.getpid(), signal.SIGKILL)
    return written.inserted, written.watched, written.by_kind


def _queue_notices(conn: Any, run_id: int, lo: str, hi: str) -> None:
    """The notices of this run's limit changes in the chunk, in the caller's transaction."""
    from sqlalchemy.orm import Session

    from cardpilot.notify.compose import default_composer
    from cardpilot.notify.outbox import enqueue_notices
    from cardpilot.notify.review import stored_limit_notices

    # The session joins the connection's open transaction: it commits or rolls back with it.
    with Session(bind=conn) as session:
        notices = list(stored_limit_notices(session, run_id=run_id, account_range=(lo, hi)))
        if notices:
            enqueue_notices(session, notices, composer=default_composer())
        session.flush()


# --------------------------------------------------------------------------- runs


def _start_run(
    db: Engine, *, cycle_id: str, as_of: dt.date, policy: Policy, engine: str, model: str | None
) -> int:
    now = dt.datetime.now(dt.UTC)
    with db.begin() as conn:
        # A run of this cycle still marked "running" was killed (or is running now: do not
        # run two reviews of one store at once; SQLite serialises them anyway).
        conn.execute(
            text(
                "UPDATE review_runs SET status = 'interrupted'"
                " WHERE cycle_id = :cycle AND status = 'running'"
            ),
            {"cycle": cycle_id},
        )
        run_id = conn.execute(
            text(
                "INSERT INTO review_runs (cycle_id, as_of, policy_version, model_version, engine,"
                " status, started_at, skipped, decided, increases, keeps, decreases, watched)"
                " VALUES (:cycle, :as_of, :policy, :model, :engine, 'running', :now,"
                " 0, 0, 0, 0, 0, 0) RETURNING id"
            ).bindparams(bindparam("now", type_=DateTime(timezone=True))),
            {
                "cycle": cycle_id,
                "as_of": as_of,
                "policy": policy.version,
                "model": model,
                "engine": engine,
                "now": now,
            },
        ).scalar_one()
    return int(run_id)


def _finish_run(db: Engine, run_id: int, status: str, note: str | None = None) -> None:
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE review_runs SET status = :status, finished_at = :now, note = :note"
                " WHERE id = :run"
            ).bindparams(bindparam("now", type_=DateTime(timezone=True))),
            {"status": status, "now": dt.datetime.now(dt.UTC), "note": note, "run": run_id},
        )


def other_currencies(db: Engine, currency: str) -> list[str]:
    """Currencies of the store's accounts other than ``currency`` (a policy's), sorted."""
    with db.connect() as conn:
        currencies = [r[0] for r in conn.execute(text("SELECT DISTINCT currency FROM accounts"))]
    return sorted(c for c in currencies if c != currency)


def _check_currency(db: Engine, policy: Policy) -> None:
    other = other_currencies(db, policy.limits.currency)
    if other:
        raise ReviewError(
            f"the store holds accounts in {', '.join(other)} but the policy's amounts are in "
            f"{policy.limits.currency}; the engine does not convert currencies. Review with a "
            "policy in the accounts' currency, e.g. --policy "
            "src/cardpilot/policies/uci-twd for the UCI data (NT$), see docs/review.md"
        )


def cycle_counts(
    db: Engine, cycle_id: str, run: tuple[int, Kinds] | None = None
) -> dict[str, dict[str, int]]:
    """Decisions of a cycle by action, grade and segment.

    ``run``: a run of the cycle and its decisions by kind as it wrote them; only the other
    runs' decisions are then counted in the store (through the run index: none, unless an
    earlier run of the cycle was interrupted), not the whole cycle again.
    """
    params: dict[str, Any] = {"cycle": cycle_id}
    if run is None:
        where = f"WHERE {cycle_decisions()}"
    else:
        where = (
            "WHERE run_id IN (SELECT id FROM review_runs WHERE cycle_id = :cycle AND id <> :run)"
        )
        params["run"] = run[0]
    with db.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT action, grade, segment, COUNT(*) FROM limit_decisions {where}"
                " GROUP BY action, grade, segment"
            ),
            params,
        ).all()
    kinds: Counter[tuple[Any, Any, Any]] = Counter({(a, g, s): int(n) for a, g, s, n in rows})
    if run is not None:
        kinds.update(run[1])
    out: dict[str, dict[str, int]] = {}
    for position, column in enumerate(("action", "grade", "segment")):
        named = {str(k) if k is not None else "none": n for k, n in tally(kinds, position).items()}
        out[column] = dict(sorted(named.items()))
    return out


def review_portfolio(
    database_url: str,
    scorer: Scorer,
    *,
    policy: Policy | None = None,
    as_of: dt.date | None = None,
    engine: EngineName | str = "local",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    out: Path | str | None = None,
    progress: ProgressCallback | None = None,
    spark: Any = None,
    model_version: str | None = None,
    notify: bool = True,
) -> ReviewResult:
    """Review every account of the store at ``database_url`` not yet decided in the cycle.

    ``notify``: queue the notice of every limit change in the outbox, in the same transaction
    as its decision (the transactional outbox), so a notice exists exactly when its decision does.

    ``scorer``: a model with ``.score(features)`` (a registry champion or ``load_model_dir``).
    ``engine``: ``local`` (in-process, chunked) or ``spark`` (``spark`` a session; default a
    local one). ``out``: export the cycle's decisions to CSV or Parquet (by suffix).
    """
    if engine not in ENGINES:
        raise ReviewError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    started = time.perf_counter()
    helpers: dict[str, Any] = {}
    if is_sqlite(database_url):
        from cardpilot.jobs import review_bulk
        from cardpilot.store.bulk import supports_bulk

        if supports_bulk(database_url):  # SQLite's ADBC side runs in helper processes
            helpers = {"reader": review_bulk.start_reader(), "writer": review_bulk.start_writer()}
    try:
        return _review(
            database_url,
            scorer,
            policy=policy,
            as_of=as_of,
            engine=engine,
            chunk_rows=chunk_rows,
            out=out,
            progress=progress,
            spark=spark,
            model_version=model_version,
            notify=notify,
            helpers=helpers,
            started=started,
        )
    finally:
        for process in helpers.values():  # still running only when the review failed early
            if process.poll() is None:
                process.kill()
            process.wait()


def _review(
    database_url: str,
    scorer: Scorer,
    *,
    policy: Policy | None,
    as_of: dt.date | None,
    engine: EngineName | str,
    chunk_rows: int,
    out: Path | str | None,
    progress: ProgressCallback | None,
    spark: Any,
    model_version: str | None,
    notify: bool,
    helpers: dict[str, Any],
    started: float,
) -> ReviewResult:
    policy = policy or load_policy()
    upgrade(database_url)
    # The chunk reader runs on its own thread (see _prefetched).
    connect_args = {"check_same_thread": False} if is_sqlite(database_url) else {}
    db = make_engine(database_url, connect_args=connect_args)
    try:
        _check_currency(db, policy)
        as_of = as_of or default_as_of(db)
        cycle_id = review_cycle_id(as_of, policy.limits.review.cycle_months)
        model_version = model_version or model_version_of(scorer)
        run_id = _start_run(
            db,
            cycle_id=cycle_id,
            as_of=as_of,
            policy=policy,
            engine=str(engine),
            model=model_version,
        )
        result = ReviewResult(
            run_id=run_id,
            cycle_id=cycle_id,
            as_of=as_of,
            engine=str(engine),
            policy_version=policy.version,
            model_version=model_version,
        )
        try:
            _run_chunks(
                db,
                scorer,
                policy,
                as_of,
                cycle_id,
                run_id,
                engine,
                chunk_rows,
                spark,
                progress,
                result,
                notify,
                helpers,
            )
            from cardpilot.jobs.watch import check_watches

            result.flags = check_watches(db, policy, as_of)
        except BaseException as exc:
            _finish_run(db, run_id, "failed", f"{type(exc).__name__}: {exc}"[:500])
            raise
        _finish_run(db, run_id, "finished")
        counts = cycle_counts(db, cycle_id, (run_id, result.run_kinds))
        result.by_action, result.by_grade = counts["action"], counts["grade"]
        result.by_segment = counts["segment"]
        result.cycle_decisions = sum(result.by_action.values())
        if out is not None:
            export_decisions(db, cycle_id, Path(out))
            result.out = str(out)
    finally:
        db.dispose()
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def model_version_of(scorer: Scorer | None) -> str | None:
    version = getattr(scorer, "model_version", None) or getattr(scorer, "version", None)
    return str(version) if version is not None else None


def _run_chunks(
    db: Engine,
    scorer: Scorer,
    policy: Policy,
    as_of: dt.date,
    cycle_id: str,
    run_id: int,
    engine: EngineName | str,
    chunk_rows: int,
    spark: Any,
    progress: ProgressCallback | None,
    result: ReviewResult,
    notify: bool,
    helpers: dict[str, Any],
) -> None:
    with db.connect() as conn:
        total = int(conn.execute(text("SELECT COUNT(*) FROM accounts")).scalar_one())
    decide = _Decider("spark" if engine == "spark" else "local", policy, as_of, spark)
    if progress:
        progress(0, total)
    from cardpilot.jobs.review_bulk import chunk_writer
    from cardpilot.store.bulk import supports_bulk

    with contextlib.ExitStack() as stack:
        writer = (
            stack.enter_context(chunk_writer(db.url, helpers.get("writer")))
            if supports_bulk(db.url)
            else None
        )
        # The bulk writer writes a chunk on its own thread while the next one is scored and
        # decided; one chunk in flight at most, so chunks still commit in order, one at a time.
        background = (
            stack.enter_context(ThreadPoolExecutor(1, "review-writer"))
            if writer is not None
            else None
        )
        pending: tuple[Future[Written], int] | None = None

        def collect(item: tuple[Future[Written], int]) -> None:
            _add_written(result, item[0].result(), item[1])

        texts: dict[str, dict[str, str]] = {}
        done = 0
        chunks = _prefetched(
            _read_chunks(db, as_of, cycle_id, chunk_rows, helpers.get("reader"), total)
        )
        stages = dict.fromkeys(("read", "features_score", "decide", "persist"), 0.0)
        clock = time.perf_counter()
        for chunk_no, chunk in enumerate(chunks, start=1):
            stages["read"] += time.perf_counter() - clock
            done += chunk.seen
            result.skipped += chunk.skipped
            if chunk.accounts.height:
                clock = time.perf_counter()
                table = scored_features(chunk, scorer, as_of)
                codes = table["reason_codes"].explode().drop_nulls().unique().to_list()
                stages["features_score"] += time.perf_counter() - clock
                clock = time.perf_counter()
                decided = decide(table, score_reason_texts(codes, texts)).with_columns(
                    table["consecutive_overdue_months"].cast(pl.Int64)
                )
                stages["decide"] += time.perf_counter() - clock
                clock = time.perf_counter()
                if pending is not None:  # the previous chunk's write, before this one's
                    collect(pending)
                    pending = None
                persist = functools.partial(
                    _persist_chunk,
                    db,
                    decided,
                    chunk,
                    run_id=run_id,
                    cycle_id=cycle_id,
                    policy=policy,
                    as_of=as_of,
                    chunk_no=chunk_no,
                    notify=notify,
                    writer=writer,
                )
                if background is None:
                    _add_written(result, persist(), decided.height)
                else:
                    pending = (background.submit(persist), decided.height)
                stages["persist"] += time.perf_counter() - clock
            if progress:
                progress(done, total)
            clock = time.perf_counter()
        clock = time.perf_counter()
        if pending is not None:
            collect(pending)
        stages["persist"] += time.perf_counter() - clock
        result.stage_seconds = {k: round(v, 3) for k, v in stages.items()}


def _add_written(result: ReviewResult, written: Written, offered: int) -> None:
    inserted, watched, by_kind = written
    result.decided += inserted
    result.skipped += offered - inserted
    result.watched += watched
    result.run_kinds.update(by_kind)


# --------------------------------------------------------------------------- reading back


EXPORT_COLUMNS = (
    "account_id",
    "grade",
    "segment",
    "score",
    "pd",
    "old_limit",
    "new_limit",
    "action",
    "consecutive_overdue_months",
    "reason_codes",
    "reason_texts",
    "reason_texts_en",
    "increase_pct",
    "due_for_review",
    "old_limit_minor",
    "new_limit_minor",
    "as_of",
    "cycle_id",
    "policy_version",
    "model_version",
    "decision_id",
    "run_id",
)


def read_decisions(db: Engine, cycle_id: str | None = None) -> pl.DataFrame:
    """The stored decisions (of one cycle, or all), reason lists decoded."""
    where = f"WHERE {cycle_decisions('d')}" if cycle_id else ""
    schema: dict[str, pl.DataType] = {
        "decision_id": pl.Int64(),
        "run_id": pl.Int64(),
        "cycle_id": pl.String(),
        "account_id": pl.String(),
        "as_of": pl.Date(),
        "due_for_review": pl.Boolean(),
        "grade": pl.String(),
        "segment": pl.String(),
        "action": pl.String(),
        "score": pl.Int64(),
        "pd": pl.Float64(),
        "old_limit_minor": pl.Int64(),
        "new_limit_minor": pl.Int64(),
        "increase_pct_bp": pl.Int64(),
        "consecutive_overdue_months": pl.Int64(),
        "reason_codes": pl.String(),
        "reason_texts_zh": pl.String(),
        "reason_texts_en": pl.String(),
        "policy_version": pl.String(),
        "model_version": pl.String(),
    }
    renamed = {
        "decision_id": "d.id",
        "due_for_review": "CAST(d.due_for_review AS INTEGER)",
        "reason_texts_zh": decision_texts("zh"),
        "reason_texts_en": decision_texts("en"),
    }
    cols = ", ".join(renamed.get(c, f"d.{c}") for c in schema)
    with db.connect() as conn:
        frame = query_frame(
            conn,
            f"SELECT {cols} FROM limit_decisions d {TEXT_SETS_JOIN}"
            f" {where} ORDER BY d.account_id, d.id",
            {"cycle": cycle_id} if cycle_id else {},
            {k: (pl.Int64() if v == pl.Boolean() else v) for k, v in schema.items()},
        )
    lists = pl.List(pl.String())
    return frame.with_columns(
        pl.col("due_for_review").cast(pl.Boolean),
        *(
            pl.col(c).str.json_decode(lists)
            for c in ("reason_codes", "reason_texts_zh", "reason_texts_en")
        ),
    )


def decisions_export_frame(decisions: pl.DataFrame) -> pl.DataFrame:
    """One row per decision in the export layout: money in yuan as exact decimals."""
    yuan = pl.Decimal(18, 2)
    return decisions.with_columns(
        (pl.col("old_limit_minor").cast(yuan) / 100).cast(yuan).alias("old_limit"),
        (pl.col("new_limit_minor").cast(yuan) / 100).cast(yuan).alias("new_limit"),
        (pl.col("increase_pct_bp").cast(pl.Float64) / 100).alias("increase_pct"),
        pl.col("reason_texts_zh").alias("reason_texts"),
    ).select(EXPORT_COLUMNS)


def export_decisions(db: Engine, cycle_id: str, path: Path) -> int:
    """Write a cycle's decisions to ``path`` (``.parquet`` or ``.csv``); returns the rows.

    CSV holds lists as ``;``-separated text (reason texts in zh-CN in ``reason_texts``, en in
    ``reason_texts_en``); Parquet keeps them as lists.
    """
    frame = decisions_export_frame(read_decisions(db, cycle_id))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        frame.write_parquet(path)
    elif path.suffix.lower() == ".csv":
        frame.with_columns(
            pl.col(c).list.join(";") for c in ("reason_codes", "reason_texts", "reason_texts_en")
        ).write_csv(path)
    else:
        raise ReviewError(f"--out {path}: use a .csv or .parquet file name")
    return frame.height


def decode_json_list(value: str) -> list[str]:
    """A stored reason list back to Python (for one-off reads)."""
    decoded = json.loads(value)
    assert isinstance(decoded, list)
    return [str(v) for v in decoded]
