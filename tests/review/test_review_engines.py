"""One decision, three engines: the single-account call, the local engine and Spark decide the
same portfolio from the store identically; the review job on Spark stores the same decisions."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

from cardpilot.batch.scoring import score_chunk, score_reason_texts
from cardpilot.engines.single import decide_account_row
from cardpilot.jobs.review import review_portfolio
from cardpilot.policy.loading import load_policy
from cardpilot.store.db import make_engine, open_store
from cardpilot.store.limit_decisions import read_decisions
from cardpilot.store.review_backend import read_account_chunks

AS_OF = dt.date(2026, 5, 1)
COMPARED = [
    "account_id",
    "grade",
    "segment",
    "action",
    "score",
    "pd",
    "old_limit_minor",
    "new_limit_minor",
    "increase_pct_bp",
    "reason_codes",
    "reason_texts_zh",
    "reason_texts_en",
    "policy_version",
    "model_version",
]


def _sqlite_copy(url: str, tmp_path: Path, name: str) -> str:
    source = Path(url.removeprefix("sqlite:///"))
    target = tmp_path / name
    shutil.copy(source, target)
    return f"sqlite:///{target}"


def test_single_account_call_matches_the_local_review(sqlite_store, scorer):
    policy = load_policy()
    engine = open_store(sqlite_store)
    try:
        chunks = read_account_chunks(engine, as_of=AS_OF, cycle_id="2026-H1", chunk_rows=300)
        chunk = next(chunks)
        chunks.close()
        table = score_chunk(chunk, scorer, AS_OF)
    finally:
        engine.dispose()
    review_portfolio(sqlite_store, scorer, as_of=AS_OF, chunk_rows=300)
    stored = read_decisions(make_engine(sqlite_store)).head(300).select(COMPARED)
    texts = score_reason_texts(table["reason_codes"].explode().drop_nulls().unique().to_list(), {})
    single = pl.DataFrame(
        [
            decide_account_row(row, policy, AS_OF, reason_texts=texts)
            for row in table.iter_rows(named=True)
        ]
    ).select(COMPARED)
    assert single.height == stored.height == 300
    assert single.equals(stored.with_columns(pl.col(c).cast(single.schema[c]) for c in COMPARED))


@pytest.mark.spark
def test_spark_review_stores_the_same_decisions_as_the_local_review(
    sqlite_store, scorer, spark, tmp_path
):
    spark_url = _sqlite_copy(sqlite_store, tmp_path, "spark.db")
    local = review_portfolio(sqlite_store, scorer, as_of=AS_OF, chunk_rows=500)
    remote = review_portfolio(
        spark_url, scorer, as_of=AS_OF, chunk_rows=500, engine="spark", spark=spark
    )
    assert remote.engine == "spark"
    assert remote.decided == local.decided
    a = read_decisions(make_engine(sqlite_store)).select(COMPARED)
    b = read_decisions(make_engine(spark_url)).select(COMPARED)
    assert a.equals(b)
    assert remote.by_action == local.by_action
