"""The early-warning score of each event's account, fresh, for the online rules.

The event consumer's trigger rows (one per applied event, ``warning.state.with_store_facts``)
carry the latest score a ``cardpilot warn run`` stored. With the registered early-warning
model, ``OnlineScorer.rescore`` replaces it, for the whole batch as one frame: each row's
account is scored as of the row's day on the features ``warn run`` computes
(``warning.features.warning_features``: the statement and behaviour features from the store,
moved on by what the row's running features add since the statement), so the batch and the
consumer give the same score for the same state. The score's change is measured from the
latest run before the row's day, as ``warn run`` measures it; the reasons and the model
version are the model's.

Cost, per batch and column-wise:

* the statement features depend on the day only through the statements up to it and the
  calendar month (months on book, age), so each account's are computed once a month and
  statement (its *key day*; the accounts that need them in one call), from its store rows and
  the scores of earlier runs, read once (``STORE_ROWS_TTL_S``: a statement imported, or a run
  stored, later is seen after that);
* the events' part is row-wise over the batch's frame;
* the probability is asked of the model once per account, key day and cell of the features the
  events move (``warning.scores.score_cuts``: for a GBM, values between the same thresholds
  score the same), for all the batch's new cells in one call;
* the reasons (a GBM's contributions, many times its prediction) only for the events that
  fire (``reasons_for``), once per cell as well.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import polars as pl
from sqlalchemy import Connection

from cardpilot.store.account_chunks import ChunkFrames
from cardpilot.store.warning_reads import scores_before, scoring_frames
from cardpilot.warning.features import (
    EVENT_FEATURES,
    EVENT_INPUTS,
    warning_features,
    with_event_features,
)
from cardpilot.warning.scores import cell_of, score_cuts, version_of, warning_pd, warning_reasons

STORE_ROWS_TTL_S = 900.0  # how long an account's statements are taken as read
HELD_ACCOUNTS = 200_000  # accounts whose store rows are kept, at most
# A row's score depends on its day, its account and what the events added: its key.
_KEYS = ["as_of", "account_id", *(c for c in EVENT_INPUTS if c != "account_id")]
_FRESH = ("score", "score_change", "reason_codes", "model_version", "months_on_book")


class OnlineScorer:
    """Scores the consumer's trigger rows with ``model`` (an early-warning model: ``score``
    over ``warning_features`` rows gives ``account_id, pd, reason_codes, model_version``)."""

    def __init__(self, model: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.model = model
        self.version = version_of(model)
        self._clock = clock
        self._read_at = clock()
        self._frames: ChunkFrames | None = None
        self._scores: pl.DataFrame | None = None  # scores of earlier runs (scores_before)
        self._read: set[str] = set()
        self._base: dict[dt.date, pl.DataFrame] = {}
        self._features: pl.DataFrame | None = None  # the last batch's, for its reasons
        # Rows of an account and key day whose moved features fall in the same cells score
        # the same: each cell's probability, computed once (``score_cuts``; without cuts the
        # values themselves are the cells).
        self._cuts = score_cuts(model, EVENT_FEATURES)
        self._pd: pl.DataFrame | None = None
        self._reasons: pl.DataFrame | None = None  # each cell's reasons, as ``_pd``

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (to the consumer's intake process) as a fresh scorer of the same model: what
        # it read of the store is read again there.
        return (type(self), (self.model, self._clock))

    def _store_rows(self, conn: Connection, accounts: list[str], first: dt.date) -> ChunkFrames:
        """The store rows of ``accounts`` (read for those not held yet)."""
        if self._clock() - self._read_at > STORE_ROWS_TTL_S or len(self._read) > HELD_ACCOUNTS:
            self._frames, self._scores, self._read, self._base = None, None, set(), {}
            self._pd = self._reasons = None
            self._read_at = self._clock()
        missing = [a for a in accounts if a not in self._read]
        if missing:
            new = scoring_frames(conn, missing, first)
            scores = scores_before(conn, missing, first)
            self._scores = scores if self._scores is None else pl.concat([self._scores, scores])
            held = self._frames
            self._frames = (
                new
                if held is None
                else ChunkFrames(
                    statements=pl.concat([held.statements, new.statements]),
                    accounts=pl.concat([held.accounts, new.accounts]),
                    customers=pl.concat([held.customers, new.customers]).unique(
                        "customer_id", keep="first", maintain_order=True
                    ),
                )
            )
            self._read.update(missing)
        assert self._frames is not None
        return self._frames

    def _statement_features(self, conn: Connection, pairs: pl.DataFrame) -> pl.DataFrame:
        """``warning_features`` of each (``as_of``, ``account_id``) of ``pairs``, with
        ``as_of``; accounts without a statement on or before the day are left out.

        The features of a day are those of its *key day*: the later of the account's latest
        statement on or before it and the first of its month (the same statements, the same
        calendar month), so an account's are computed once a month and statement."""
        accounts = pairs.get_column("account_id").unique().to_list()
        frames = self._store_rows(conn, accounts, _first_day(pairs))
        cycles = (
            frames.statements.select("account_id", "cycle_date")
            .join(pairs.select("account_id").unique(), on="account_id", how="semi")
            .sort("cycle_date")
        )
        keyed = (
            pairs.sort("as_of")
            .join_asof(
                cycles,
                left_on="as_of",
                right_on="cycle_date",
                by="account_id",
                strategy="backward",
                check_sortedness=False,  # both sorted by day above
            )
            .filter(pl.col("cycle_date").is_not_null())
            .with_columns(
                pl.max_horizontal("cycle_date", pl.col("as_of").dt.month_start()).alias("_day")
            )
        )
        if not keyed.height:
            return pl.DataFrame()
        oldest = _first_day(keyed, "_day").replace(day=1)
        self._base = {d: f for d, f in self._base.items() if d >= oldest}
        if self._pd is not None:
            self._pd = self._pd.filter(pl.col("_day") >= oldest)
        if self._reasons is not None:
            self._reasons = self._reasons.filter(pl.col("_day") >= oldest)
        for (day,), group in keyed.group_by("_day", maintain_order=True):
            assert isinstance(day, dt.date)
            held = self._base.get(day)
            wanted = group.select("account_id").unique()
            if held is not None:
                wanted = wanted.join(held, on="account_id", how="anti")
            if wanted.height:
                chosen = ChunkFrames(
                    statements=frames.statements.join(wanted, on="account_id", how="semi"),
                    accounts=frames.accounts.join(wanted, on="account_id", how="semi"),
                    customers=frames.customers,
                )
                fresh = warning_features(chosen, day).with_columns(pl.lit(day).alias("_day"))
                self._base[day] = fresh if held is None else pl.concat([held, fresh])
        days = keyed.get_column("_day").unique().to_list()
        base = pl.concat([self._base[d] for d in days])
        return keyed.select("as_of", "account_id", "_day").join(base, on=["account_id", "_day"])

    def rescore(self, conn: Connection, rows: pl.DataFrame) -> pl.DataFrame:
        """``rows`` (trigger rows with the store's facts: ``as_of``, ``account_id``, the
        ``EVENT_INPUTS`` columns, ``score``, ``score_change``, ``reason_codes``,
        ``model_version``) with the fresh score, its change, the model's version and
        ``months_on_book``, where the model can score the account (it has statements); the
        other rows keep what the store gave them. Order kept.

        A rescored row's reasons are left empty: ``reasons_for`` works them out for the rows
        that need them (those that reach the rules' decision)."""
        self._features = None
        if not rows.height:
            return rows
        distinct = rows.select(_KEYS).unique(maintain_order=True)
        base = self._statement_features(conn, distinct.select("as_of", "account_id").unique())
        if not base.height:
            return rows
        features = with_event_features(distinct.join(base, on=["as_of", "account_id"]))
        fresh = self._probabilities(features).select(
            *_KEYS,
            "months_on_book",
            pl.col("_pd").alias("score"),
            pl.lit(None, pl.List(pl.String())).alias("reason_codes"),
            pl.lit(self.version).alias("model_version"),
        )
        assert self._scores is not None  # read with the store rows
        self._features = features
        return _merged(rows, _with_change(fresh, self._scores))

    def _cells(self, features: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
        """``features`` (with ``_day``) with each row's cell of the moved features, and the
        columns that name a cell: rows of one cell get the same probability and reasons."""
        cells = [
            (
                cell_of(features.get_column(f), self._cuts[f])
                if self._cuts is not None
                else features.get_column(f)
            ).alias(f"_cell_{f}")
            for f in EVENT_FEATURES
        ]
        return features.with_columns(cells), ["account_id", "_day", *(c.name for c in cells)]

    def _per_cell(
        self,
        keyed: pl.DataFrame,
        keys: list[str],
        held: pl.DataFrame | None,
        work_out: Callable[[pl.DataFrame], pl.Series],
    ) -> pl.DataFrame:
        """``held`` (one row per cell, its value ``_v``) with the cells of ``keyed`` it lacks,
        their values worked out by ``work_out`` on one row of each."""
        new = keyed if held is None else keyed.join(held, on=keys, how="anti", nulls_equal=True)
        new = new.unique(keys, keep="first", maintain_order=True)
        if not new.height:
            assert held is not None
            return held
        found = new.select(keys).with_columns(work_out(new).alias("_v"))
        return found if held is None else pl.concat([held, found])

    def _probabilities(self, features: pl.DataFrame) -> pl.DataFrame:
        """``features`` (with ``_day``) with ``_pd``: each cell's probability, the model
        asked only for the cells not met before."""
        keyed, keys = self._cells(features)
        self._pd = self._per_cell(keyed, keys, self._pd, lambda f: warning_pd(self.model, f))
        probabilities = self._pd.rename({"_v": "_pd"})
        return keyed.join(
            probabilities, on=keys, how="left", nulls_equal=True, maintain_order="left"
        )

    def reasons_for(self, rows: pl.DataFrame) -> pl.DataFrame:
        """``rows`` (some of ``rescore``'s last output) with the model's reasons for those it
        rescored (each cell's worked out once); the others as they are."""
        features = self._features
        if features is None or not rows.height:
            return rows
        chosen = features.join(rows.select(_KEYS).unique(), on=_KEYS, nulls_equal=True)
        if not chosen.height:
            return rows
        keyed, keys = self._cells(chosen)
        self._reasons = self._per_cell(
            keyed, keys, self._reasons, lambda f: warning_reasons(self.model, f)
        )
        reasons = keyed.join(self._reasons, on=keys, how="left", nulls_equal=True).select(
            *_KEYS, pl.col("_v").alias("_reasons")
        )
        return (
            rows.join(reasons, on=_KEYS, how="left", nulls_equal=True, maintain_order="left")
            .with_columns(pl.coalesce("_reasons", "reason_codes").alias("reason_codes"))
            .drop("_reasons")
        )


def _merged(rows: pl.DataFrame, fresh: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with the ``_FRESH`` columns of ``fresh`` where it has their keys, in the
    order of ``rows``."""
    marked = rows.join(
        fresh.rename({c: f"_{c}" for c in _FRESH}),
        on=_KEYS,
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    found = pl.col("_score").is_not_null()
    return (
        marked.with_columns(
            pl.when(found).then(pl.col(f"_{c}")).otherwise(pl.col(c)).alias(c)
            for c in _FRESH
            if c in rows.columns
        )
        .with_columns(pl.col(f"_{c}").alias(c) for c in _FRESH if c not in rows.columns)
        .drop(*(f"_{c}" for c in _FRESH))
    )


def _first_day(frame: pl.DataFrame, column: str = "as_of") -> dt.date:
    first = frame.get_column(column).min()
    assert isinstance(first, dt.date)
    return first


def _with_change(fresh: pl.DataFrame, stored: pl.DataFrame) -> pl.DataFrame:
    """``fresh`` with ``score_change``: the score less that of the latest run stored before
    the row's day (``stored``: ``scores_before`` rows; null: none), as ``warn run`` measures
    it."""
    ordered = fresh.with_row_index("_at").sort("as_of")
    before = ordered.join_asof(
        stored.sort("scored_on"),
        left_on="as_of",
        right_on="scored_on",
        by="account_id",
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,  # sorted by day above; polars cannot check it within groups
    )
    return (
        before.with_columns((pl.col("score") - pl.col("previous_score")).alias("score_change"))
        .sort("_at")
        .drop("_at", "scored_on", "previous_score")
    )
