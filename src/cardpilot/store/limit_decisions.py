"""The review's decisions in the store (``limit_decisions`` and ``reason_text_sets``): their
stored form, the statements one chunk's write runs, and the reads back.

A chunk's write (``cardpilot.store.decision_writer``) inserts the decisions with ``ON CONFLICT
(account_id, cycle_id) DO NOTHING`` and then applies, from the decisions *that run inserted*
(``WHERE run_id = :run`` over the chunk's account range), the limit-history rows and the
accounts' new limit, grade, segment and review date: a decision made by another run is never
applied twice. An increase changes the limit at once; a decrease is stored as a pending change
effective after its notice period (``cardpilot.store.pending_limits``), and the account keeps its
limit until then.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine

from cardpilot.store.frame_reads import query_frame
from cardpilot.store.review_models import TEXT_SETS_JOIN, cycle_decisions, decision_texts
from cardpilot.store.watches import WatchStart

DECISION_COLUMNS = (
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
# A champion/challenger test's columns: written only by a review the test splits.
EXPERIMENT_COLUMNS = ("experiment", "arm")
# Columns equal on every row a run writes.
RUN_COLUMNS = ("run_id", "cycle_id", "as_of", "policy_version", "model_version")
_REASON_COLUMNS = ("reason_codes", "reason_texts_zh", "reason_texts_en")
_TEXT_COLUMNS = ["reason_texts_zh", "reason_texts_en"]

# A chunk's decision texts (zh-CN, en JSON arrays) by the id of their set.
TextSets = dict[str, tuple[str, str]]
# Decisions by (action, grade, segment).
DecisionKinds = dict[tuple[Any, Any, Any], int]

# Writing a set again is a no-op: its id is a digest of its texts.
TEXT_SETS_INSERT = (
    "INSERT INTO reason_text_sets (id, texts_zh, texts_en) VALUES (:id, :zh, :en)"
    " ON CONFLICT (id) DO NOTHING"
)
# ``:run``, ``:lo``, ``:hi``: the run and the chunk's account range.
KINDS_INSERTED = (
    "SELECT action, grade, segment, COUNT(*) FROM limit_decisions"
    " WHERE run_id = :run AND account_id BETWEEN :lo AND :hi GROUP BY action, grade, segment"
)
HISTORY_INSERT = (
    "INSERT INTO limit_history (account_id, effective_at, old_limit_minor, new_limit_minor,"
    " source, decision_id, policy_version, model_version, note)"
    " SELECT account_id, :effective_at, old_limit_minor, new_limit_minor, 'review',"
    " CAST(id AS VARCHAR(64)), policy_version, model_version, action"
    " FROM limit_decisions WHERE run_id = :run AND account_id BETWEEN :lo AND :hi"
    # A decrease waits for its notice period (cardpilot.store.pending_limits).
    " AND action = 'increase'"
)
ACCOUNTS_UPDATE = (
    "UPDATE accounts SET credit_limit_minor = CASE WHEN d.action = 'decrease'"
    " THEN accounts.credit_limit_minor ELSE d.new_limit_minor END, grade = d.grade,"
    " segment = d.segment,"
    " last_review_on = CASE WHEN d.due_for_review THEN d.as_of ELSE accounts.last_review_on END"
    " FROM limit_decisions d WHERE d.account_id = accounts.account_id AND d.run_id = :run"
    " AND d.account_id BETWEEN :lo AND :hi"
)
# The run's decisions in the chunk that its notices tell, read back inside its transaction:
# every limit change, and every limit kept at a due review (the tips message may follow it).
CHANGED_IN_CHUNK = (
    "SELECT d.id, d.account_id, a.customer_id, a.currency, d.as_of, d.old_limit_minor,"
    f" d.new_limit_minor, d.reason_codes, {decision_texts('zh')}, {decision_texts('en')},"
    " d.policy_version, d.grade, CAST(d.due_for_review AS INTEGER)"
    " FROM limit_decisions d JOIN accounts a ON a.account_id = d.account_id"
    f" {TEXT_SETS_JOIN}"
    " WHERE d.run_id = :run AND d.account_id BETWEEN :lo AND :hi"
    " AND (d.new_limit_minor <> d.old_limit_minor OR d.due_for_review) ORDER BY d.id"
)
# A decision as a notice reads it (reason lists as JSON array text).
CHANGE_COLUMNS: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "currency": pl.String(),
    "as_of": pl.Date(),
    "old_limit_minor": pl.Int64(),
    "new_limit_minor": pl.Int64(),
    "reason_codes": pl.String(),
    "reason_texts_zh": pl.String(),
    "reason_texts_en": pl.String(),
    "policy_version": pl.String(),
}
# A limit decision as its notice reads it: the grade it names and whether a review was due.
LIMIT_NOTICE_COLUMNS: dict[str, pl.DataType] = {
    **CHANGE_COLUMNS,
    "grade": pl.String(),
    "due_for_review": pl.Int64(),
}
KIND_COLUMNS: dict[str, pl.DataType] = {
    "action": pl.String(),
    "grade": pl.String(),
    "segment": pl.String(),
    "n": pl.Int64(),
}


@dataclass(frozen=True)
class DecisionChunk:
    """What one chunk writes, as plain data (it crosses to the SQLite writer process)."""

    rows: pl.DataFrame  # DECISION_COLUMNS (``decision_rows``)
    text_sets: TextSets  # written before the decisions; a set already there is kept
    run_id: int
    first: str  # the chunk's account range
    last: str
    effective: dt.datetime  # of the limit-history rows
    skipped: int  # accounts of the range not offered (not due, or decided before)
    watch: WatchStart
    # When the chunk's decreases take effect: the decision date plus the notice period.
    decrease_effective_on: dt.date

    @property
    def bounds(self) -> dict[str, Any]:
        return {"run": self.run_id, "lo": self.first, "hi": self.last}


@dataclass(frozen=True)
class ChunkWritten:
    """What one chunk's write did."""

    # Decisions inserted by (action, grade, segment): the cycle's counts without a rescan.
    by_kind: DecisionKinds
    watched: int
    offered: int

    @property
    def by_action(self) -> Counter[Any]:
        return counts_by(self.by_kind, 0)

    @property
    def inserted(self) -> int:
        return sum(self.by_kind.values())

    @property
    def skipped_as_decided(self) -> int:
        """Offered but already decided in the cycle (by another run since the chunk was read)."""
        return self.offered - self.inserted


# --------------------------------------------------------------------------- stored form


def json_array(name: str) -> pl.Expr:
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


def reason_texts_id(texts_zh: str, texts_en: str) -> str:
    """The id of a text set: the first 128 bits of SHA-256 over its two JSON arrays, in hex.

    A JSON array's text holds no raw newline (:func:`json_array` escapes it), so the newline
    between the two is unambiguous: equal texts give one id, different texts different ones.
    """
    return hashlib.sha256(f"{texts_zh}\n{texts_en}".encode()).hexdigest()[:32]


def decision_rows(
    decisions: pl.DataFrame,
    run_id: int,
    cycle_id: str,
    early: pl.Series | None = None,
    early_cycle_id: str | None = None,
) -> tuple[pl.DataFrame, TextSets]:
    """A chunk's decisions (``decide_limits``' columns) as rows of ``DECISION_COLUMNS`` (and
    ``EXPERIMENT_COLUMNS`` when a test split them), and
    the text sets they refer to; ``early``: the accounts decided again in the cycle on an early
    review, whose decisions take ``early_cycle_id`` (one early review per account and cycle).

    A chunk holds few distinct reason lists (about a hundred in 100,000 decisions): each is
    written as JSON once, and only its codes and its set's id are joined back to the rows.
    """
    keys = list(_REASON_COLUMNS)
    columns = DECISION_COLUMNS + tuple(c for c in EXPERIMENT_COLUMNS if c in decisions.columns)
    distinct = decisions.select(keys).unique(maintain_order=True)
    as_json = distinct.select(json_array(c).alias(c) for c in keys)
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
            _cycle_of_rows(cycle_id, early, early_cycle_id).alias("cycle_id"),
            # The texts are the set's; the decision's own columns stay empty (migration 0013).
            *(pl.lit("").alias(c) for c in _TEXT_COLUMNS),
        ).select(columns),
        sets,
    )


def _cycle_of_rows(cycle_id: str, early: pl.Series | None, early_cycle_id: str | None) -> pl.Expr:
    if early is None or early.len() == 0 or early_cycle_id is None:
        return pl.lit(cycle_id)
    return (
        pl.when(pl.col("account_id").is_in(early.implode()))
        .then(pl.lit(early_cycle_id))
        .otherwise(pl.lit(cycle_id))
    )


def kinds_of(counts: pl.DataFrame) -> DecisionKinds:
    """``KIND_COLUMNS`` rows as decisions by (action, grade, segment)."""
    return {(a, g, s): int(n) for a, g, s, n in counts.iter_rows()}


def counts_by(kinds: DecisionKinds, position: int) -> Counter[Any]:
    """Decisions by kind summed by one of action (0), grade (1) or segment (2)."""
    totals: Counter[Any] = Counter()
    for kind, n in kinds.items():
        totals[kind[position]] += n
    return totals


# --------------------------------------------------------------------------- reading back


def cycle_kinds(db: Engine, cycle_id: str, *, other_than_run: int | None = None) -> DecisionKinds:
    """A cycle's stored decisions by (action, grade, segment); ``other_than_run``: only those
    of the cycle's other runs (found through the run index: none, unless an earlier run of the
    cycle was interrupted), not the whole cycle again."""
    params: dict[str, Any] = {"cycle": cycle_id}
    if other_than_run is None:
        where = f"WHERE {cycle_decisions()}"
    else:
        where = (
            "WHERE run_id IN (SELECT id FROM review_runs WHERE cycle_id = :cycle AND id <> :run)"
            # A case's override sits under the run it overrode, in a cycle of its own.
            " AND cycle_id = :cycle"
        )
        params["run"] = other_than_run
    with db.connect() as conn:
        counts = query_frame(
            conn,
            f"SELECT action, grade, segment, COUNT(*) FROM limit_decisions {where}"
            " GROUP BY action, grade, segment",
            params,
            KIND_COLUMNS,
        )
    return kinds_of(counts)


_STORED: dict[str, pl.DataType] = {
    "decision_id": pl.Int64(),
    "run_id": pl.Int64(),
    "cycle_id": pl.String(),
    "account_id": pl.String(),
    "as_of": pl.Date(),
    "due_for_review": pl.Int64(),
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


def read_decisions(db: Engine, cycle_id: str | None = None) -> pl.DataFrame:
    """The stored decisions (of one cycle, or all), reason lists decoded."""
    where = f"WHERE {cycle_decisions('d')}" if cycle_id else ""
    renamed = {
        "decision_id": "d.id",
        "due_for_review": "CAST(d.due_for_review AS INTEGER)",
        "reason_texts_zh": decision_texts("zh"),
        "reason_texts_en": decision_texts("en"),
    }
    cols = ", ".join(renamed.get(c, f"d.{c}") for c in _STORED)
    with db.connect() as conn:
        frame = query_frame(
            conn,
            f"SELECT {cols} FROM limit_decisions d {TEXT_SETS_JOIN}"
            f" {where} ORDER BY d.account_id, d.id",
            {"cycle": cycle_id} if cycle_id else {},
            _STORED,
        )
    lists = pl.List(pl.String())
    return frame.with_columns(
        pl.col("due_for_review").cast(pl.Boolean),
        *(pl.col(c).str.json_decode(lists) for c in _REASON_COLUMNS),
    )


def read_limit_changes(
    conn: Connection,
    *,
    account_id: str | None = None,
    cycle_id: str | None = None,
    run_id: int | None = None,
    account_range: tuple[str, str] | None = None,
    include_keeps: bool = False,
) -> pl.DataFrame:
    """Stored decisions that changed a limit (or all, with ``include_keeps``) as notices read
    them (``LIMIT_NOTICE_COLUMNS``), in decision order."""
    conditions = [] if include_keeps else ["d.new_limit_minor <> d.old_limit_minor"]
    params: dict[str, Any] = {}
    if account_id is not None:
        conditions.append("d.account_id = :account_id")
        params["account_id"] = account_id
    if cycle_id is not None:
        conditions.append(cycle_decisions("d"))
        params["cycle"] = cycle_id
    if run_id is not None:
        conditions.append("d.run_id = :run_id")
        params["run_id"] = run_id
    if account_range is not None:
        conditions.append("d.account_id BETWEEN :lo AND :hi")
        params["lo"], params["hi"] = account_range
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    return query_frame(
        conn,
        "SELECT d.id, d.account_id, a.customer_id, a.currency, d.as_of, d.old_limit_minor,"
        f" d.new_limit_minor, d.reason_codes, {decision_texts('zh')}, {decision_texts('en')},"
        " d.policy_version, d.grade, CAST(d.due_for_review AS INTEGER)"
        " FROM limit_decisions d JOIN accounts a ON a.account_id = d.account_id"
        f" {TEXT_SETS_JOIN} {where} ORDER BY d.id",
        params,
        LIMIT_NOTICE_COLUMNS,
    )
