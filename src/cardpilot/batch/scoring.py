"""Scoring a chunk of accounts: features from its statements, the model's scores joined to
every pending account (an account without statements in the window has no score)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

import polars as pl
from sqlalchemy import Engine

from cardpilot.domain import progress
from cardpilot.notify.reasons import has_statement, statement_texts
from cardpilot.policy.limits import OVERDUE_COUNTS, since_limit_change
from cardpilot.scoring.directions import directional_reasons
from cardpilot.scoring.features import behaviour_features
from cardpilot.scoring.reasons import reason_text
from cardpilot.store.account_chunks import (
    DEFAULT_CHUNK_ROWS,
    NO_CYCLE,
    AccountChunk,
    ChunkFrames,
)
from cardpilot.store.review_backend import read_account_chunks

# What a scorer adds to the feature table (docs/CONTRACTS.md "Scores"), and its types when an
# account has no score.
SCORE_COLUMNS: dict[str, pl.DataType] = {
    "score": pl.Int64(),
    "pd": pl.Float64(),
    "reason_codes": pl.List(pl.String()),
    "positive_codes": pl.List(pl.String()),
    "model_version": pl.String(),
}


class Scorer(Protocol):
    """What a batch job needs of a model (docs/CONTRACTS.md "Scores")."""

    def score(self, features: pl.DataFrame) -> pl.DataFrame: ...


def model_version_of(scorer: Scorer | None) -> str | None:
    version = getattr(scorer, "model_version", None) or getattr(scorer, "version", None)
    return str(version) if version is not None else None


def score_chunk(
    chunk: AccountChunk, scorer: Scorer, as_of: dt.date, *, reasons: bool = True
) -> pl.DataFrame:
    """Features and scores of a chunk, one row per pending account, in the chunk's order;
    accounts without statements have null features and scores (``SCORE_COLUMNS``), whatever
    else the chunk holds. ``reasons`` False: the score's reasons are left null (the reasons
    with a direction cost more than the features; a caller that states no reason skips them)."""
    features = behaviour_features(chunk.frames, as_of)
    scores = pl.DataFrame()
    if features.height:
        scores = scored_with_directions(scorer, features) if reasons else scored(scorer, features)
    if scores.height:
        features = features.join(
            scores.select("account_id", *SCORE_COLUMNS), on="account_id", how="left"
        )
    else:
        features = features.with_columns(
            pl.lit(None, dtype).alias(name) for name, dtype in SCORE_COLUMNS.items()
        )
    accounts = chunk.accounts.select(
        "account_id",
        "credit_limit_minor",
        "last_review_on",
        "last_limit_change_on",
        "increase_hold_until",
        "annual_income_minor",
    )
    drop = [c for c in ("credit_limit_minor", "annual_income_minor") if c in features.columns]
    # The account's current limit (what the review changes) and income come from the store.
    table = accounts.join(features.drop(drop), on="account_id", how="left")
    return table.join(overdue_since_limit_change(chunk, as_of), on="account_id", how="left")


def overdue_since_limit_change(chunk: AccountChunk, as_of: dt.date) -> pl.DataFrame:
    """The overdue counts a decrease trigger reads (``OVERDUE_COUNTS``), counted on the
    statements dated after the account's last limit change, for the accounts with a statement
    read on or before that change (for the others the window's counts are the same); 0 for an
    account with no statement since. Columns ``account_id`` and ``<count>_since_limit_change``."""
    columns = [since_limit_change(name) for name in OVERDUE_COUNTS]
    empty = pl.DataFrame(schema={"account_id": pl.String(), **dict.fromkeys(columns, pl.Int64())})
    changes = chunk.accounts.select("account_id", "last_limit_change_on").drop_nulls()
    if not changes.height:
        return empty
    statements = chunk.frames.statements.join(changes, on="account_id")
    earlier = pl.col("cycle_date") <= pl.col("last_limit_change_on")
    changed = statements.filter(earlier).select("account_id").unique(maintain_order=True)
    if not changed.height:
        return empty
    frames = ChunkFrames(
        statements=statements.join(changed, on="account_id", how="semi")
        .filter(~earlier)
        .drop("last_limit_change_on"),
        accounts=chunk.frames.accounts.join(changed, on="account_id", how="semi"),
        customers=chunk.frames.customers,
    )
    counts = behaviour_features(frames, as_of).select("account_id", *OVERDUE_COUNTS)
    counted = changed.join(counts, on="account_id", how="left").select(
        "account_id",
        *(
            pl.col(n).fill_null(0).cast(pl.Int64).alias(since_limit_change(n))
            for n in OVERDUE_COUNTS
        ),
    )
    return counted


def scored(scorer: Scorer, features: pl.DataFrame) -> pl.DataFrame:
    """The scorer's scores and PDs without reasons (``reason_codes`` and ``positive_codes``
    null): what a caller that states no reason needs."""
    return scorer.score(features).with_columns(
        pl.lit(None, dtype=pl.List(pl.String())).alias(name)
        for name in ("reason_codes", "positive_codes")
    )


def scored_with_directions(scorer: Scorer, features: pl.DataFrame) -> pl.DataFrame:
    """The scorer's scores, its reasons replaced by reasons with a direction
    (``cardpilot.scoring.directions``): ``reason_codes`` adverse, ``positive_codes`` positive.
    A scorer that module does not know keeps its own reasons and gives no positive ones."""
    scores = scorer.score(features)
    directions = directional_reasons(scorer, features)
    if directions is None:
        return scores.with_columns(pl.lit(None, dtype=pl.List(pl.String())).alias("positive_codes"))
    return scores.drop("reason_codes", strict=False).join(
        directions, on="account_id", how="left", maintain_order="left"
    )


def score_reason_texts(
    codes: Sequence[str], known: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]]:
    """zh-CN and en texts of the score's own reason codes, added to ``known``: the customer
    statements (``cardpilot.notify.reasons``) where the code has one, else the scoring
    package's text (``cardpilot.scoring.reasons``), else the code itself."""
    missing = [c for c in codes if c not in known]
    for code in missing:
        if has_statement(code):
            known[code] = statement_texts(code)
            continue
        try:
            known[code] = {loc: str(reason_text(code, loc)) for loc in ("zh-CN", "en")}
        except KeyError:
            known[code] = {"zh-CN": code, "en": code}
    return known


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
    chunks = read_account_chunks(db, as_of=as_of, cycle_id=NO_CYCLE, chunk_rows=chunk_rows)
    progress.stage("scoring accounts", limit)
    try:
        for chunk in chunks:
            scored = score_chunk(chunk, scorer, as_of)
            parts.append(scored.select("account_id", "score", "pd"))
            taken += scored.height
            progress.advance(scored.height)
            progress.note(f"{taken:,} accounts")
            if limit is not None and taken >= limit:
                break
    finally:
        chunks.close()  # stops the reader (its helper process on SQLite)
    schema = pl.Schema({"account_id": pl.String(), "score": pl.Float64(), "pd": pl.Float64()})
    if not parts:
        return pl.DataFrame(schema=schema)
    frame = pl.concat(parts, how="vertical_relaxed").cast(schema)
    return frame if limit is None else frame.head(limit)


def reason_codes_of(table: pl.DataFrame) -> list[Any]:
    """The distinct reason codes a scored table's rows carry, adverse and positive."""
    columns = [c for c in ("reason_codes", "positive_codes") if c in table.columns]
    return pl.concat([table[c].explode() for c in columns]).drop_nulls().unique().to_list()
