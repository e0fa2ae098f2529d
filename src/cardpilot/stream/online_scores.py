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

Cost: the statement features depend on the day only through the statements up to it and the
calendar month (months on book, age), so each account's are computed once per day it has
events on (all the batch's accounts of a day in one call), from its store rows read once
(``STORE_ROWS_TTL_S``: a statement imported later is seen after that). The events' part is
row-wise, and the model scores the batch's distinct feature rows in one call.
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
from cardpilot.warning.features import EVENT_INPUTS, warning_features, with_event_features

STORE_ROWS_TTL_S = 900.0  # how long an account's statements are taken as read
HELD_ACCOUNTS = 200_000  # accounts whose store rows are kept, at most
_EVENT_COLUMNS = [c for c in EVENT_INPUTS if c != "account_id"]
_FRESH = ("score", "score_change", "reason_codes", "model_version", "months_on_book")


class OnlineScorer:
    """Scores the consumer's trigger rows with ``model`` (an early-warning model: ``score``
    over ``warning_features`` rows gives ``account_id, pd, reason_codes, model_version``)."""

    def __init__(self, model: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.model = model
        self.version = str(getattr(model, "version", "unversioned"))
        self._clock = clock
        self._read_at = clock()
        self._frames: ChunkFrames | None = None
        self._read: set[str] = set()
        self._base: dict[dt.date, pl.DataFrame] = {}

    def _store_rows(self, conn: Connection, accounts: list[str], first: dt.date) -> ChunkFrames:
        """The store rows of ``accounts`` (read for those not held yet)."""
        if self._clock() - self._read_at > STORE_ROWS_TTL_S or len(self._read) > HELD_ACCOUNTS:
            self._frames, self._read, self._base = None, set(), {}
            self._read_at = self._clock()
        missing = [a for a in accounts if a not in self._read]
        if missing:
            new = scoring_frames(conn, missing, first)
            held = self._frames
            self._frames = (
                new
                if held is None
                else ChunkFrames(
                    statements=pl.concat([held.statements, new.statements]),
                    accounts=pl.concat([held.accounts, new.accounts]).sort("account_id"),
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
        ``as_of``; accounts without statements are left out."""
        days = sorted(pairs.get_column("as_of").unique().to_list())
        self._base = {d: f for d, f in self._base.items() if d >= days[0]}
        frames = self._store_rows(conn, pairs.get_column("account_id").unique().to_list(), days[0])
        out = []
        for day, group in pairs.group_by("as_of", maintain_order=True):
            (as_of,) = day
            assert isinstance(as_of, dt.date)
            held = self._base.get(as_of)
            wanted = group.select("account_id")
            if held is not None:
                wanted = wanted.join(held.select("account_id"), on="account_id", how="anti")
            if wanted.height:
                chosen = ChunkFrames(
                    statements=frames.statements.join(wanted, on="account_id", how="semi"),
                    accounts=frames.accounts.join(wanted, on="account_id", how="semi"),
                    customers=frames.customers,
                )
                fresh = warning_features(chosen, as_of)
                held = fresh if held is None else pl.concat([held, fresh])
                self._base[as_of] = held
            if held is not None:
                out.append(
                    held.join(group.select("account_id"), on="account_id", how="semi").with_columns(
                        pl.lit(as_of).alias("as_of")
                    )
                )
        return pl.concat(out) if out else pl.DataFrame()

    def rescore(self, conn: Connection, rows: pl.DataFrame) -> pl.DataFrame:
        """``rows`` (trigger rows with the store's facts: ``as_of``, ``account_id``, the
        ``EVENT_INPUTS`` columns, ``score``, ``score_change``, ``reason_codes``,
        ``model_version``) with the fresh score, its change, the model's reasons and version,
        and ``months_on_book``, where the model can score the account (it has statements); the
        other rows keep what the store gave them. Order kept."""
        if not rows.height:
            return rows
        keys = ["as_of", "account_id", *_EVENT_COLUMNS]
        distinct = rows.select(keys).unique(maintain_order=True)
        base = self._statement_features(conn, distinct.select("as_of", "account_id").unique())
        if not base.height:
            return rows
        features = with_event_features(distinct.join(base, on=["as_of", "account_id"]))
        scored = self.model.score(features)
        fresh = features.select(*keys, "months_on_book").with_columns(
            scored.get_column("pd").alias("score"),
            scored.get_column("reason_codes"),
            scored.get_column("model_version"),
        )
        fresh = _with_change(conn, fresh)
        marked = rows.with_row_index("_row").join(
            fresh.rename({c: f"_{c}" for c in _FRESH}), on=keys, how="left", nulls_equal=True
        )
        found = pl.col("_score").is_not_null()
        kept = [c for c in _FRESH if c in rows.columns]
        return (
            marked.with_columns(
                pl.when(found).then(pl.col(f"_{c}")).otherwise(pl.col(c)).alias(c) for c in kept
            )
            .with_columns(
                *(pl.col(f"_{c}").alias(c) for c in _FRESH if c not in rows.columns),
            )
            .sort("_row")
            .drop("_row", *(f"_{c}" for c in _FRESH))
        )


def _with_change(conn: Connection, fresh: pl.DataFrame) -> pl.DataFrame:
    """``fresh`` with ``score_change``: the score less that of the latest run stored before
    the row's day (null: none), as ``warn run`` measures it."""
    first, last = fresh.get_column("as_of").min(), fresh.get_column("as_of").max()
    assert isinstance(first, dt.date)
    assert isinstance(last, dt.date)
    stored = scores_before(conn, fresh.get_column("account_id").unique().to_list(), first, last)
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
