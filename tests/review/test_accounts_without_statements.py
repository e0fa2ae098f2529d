"""Accounts without statements are decided KEEP_NO_SCORE in any chunk composition: a chunk of
them alone, one account a chunk, or mixed with scored accounts, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text

from cardpilot.jobs.review import review_portfolio
from cardpilot.store.db import make_engine
from cardpilot.store.limit_decisions import read_decisions

END_CYCLE = dt.date(2026, 10, 31)
AS_OF = dt.date(2026, 11, 1)
ACCOUNTS = 40
# The first ten accounts and every third one after them lose their statements: with chunks of
# 7 the first chunk holds only such accounts, with 50 one chunk mixes both kinds.
STRIPPED = [*range(10), *range(10, ACCOUNTS, 3)]


@pytest.fixture(scope="module")
def small_portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cardpilot.synth.generate import GenerateOptions, generate_portfolio

    out = tmp_path_factory.mktemp("small-portfolio") / "portfolio"
    generate_portfolio(
        GenerateOptions(
            accounts=ACCOUNTS, out=out, seed=7, months=12, transactions=False, end_cycle=END_CYCLE
        )
    )
    return out


def _strip_statements(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            ids = [r[0] for r in conn.execute(text("SELECT account_id FROM accounts ORDER BY 1"))]
            stripped = [ids[i] for i in STRIPPED if i < len(ids)]
            conn.execute(
                text("DELETE FROM statements WHERE account_id = :a"), [{"a": a} for a in stripped]
            )
            conn.execute(text("UPDATE accounts SET status = 'active'"))
    finally:
        engine.dispose()
    return set(stripped)


@pytest.mark.parametrize("chunk_rows", [1, 7, 50])
def test_accounts_without_statements_are_kept_without_a_score_in_any_chunk(
    store_url, small_portfolio, tmp_path, scorer, chunk_rows
):
    from cardpilot.config import Settings
    from cardpilot.jobs.importing import import_portfolio

    import_portfolio(
        small_portfolio, layout="generic", database_url=store_url, settings=Settings(home=tmp_path)
    )
    stripped = _strip_statements(store_url)

    result = review_portfolio(store_url, scorer, as_of=AS_OF, chunk_rows=chunk_rows)

    engine = make_engine(store_url)
    try:
        decisions = read_decisions(engine)
    finally:
        engine.dispose()
    assert result.decided == decisions.height == ACCOUNTS
    unscored = decisions.filter(pl.col("account_id").is_in(stripped))
    assert unscored.height == len(stripped)
    assert (unscored["action"] == "keep").all()
    assert unscored["score"].is_null().all()
    assert all("KEEP_NO_SCORE" in codes for codes in unscored["reason_codes"].to_list())
    assert (unscored["new_limit_minor"] == unscored["old_limit_minor"]).all()
    scored = decisions.filter(~pl.col("account_id").is_in(stripped))
    assert scored["score"].is_not_null().all()
