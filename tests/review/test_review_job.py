"""The periodic review over the store: every account decided once, limits and history follow
the decisions, policy rules hold, a second run of the cycle adds nothing, exports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text
from store_counts import stored_decisions

from cardpilot.batch.dates import default_as_of
from cardpilot.jobs.review import ReviewError, review_cycle_id, review_portfolio
from cardpilot.policy.loading import load_policy, policy_from_data, read_policy_data
from cardpilot.store.db import make_engine
from cardpilot.store.limit_decisions import read_decisions

AS_OF = dt.date(2026, 5, 1)


def _scalar(url: str, sql: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def test_review_decides_every_account_once_with_one_to_four_reasons(loaded_store, scorer):
    result = review_portfolio(loaded_store, scorer, as_of=AS_OF, chunk_rows=500)
    accounts = _scalar(loaded_store, "SELECT COUNT(*) FROM accounts")
    decisions = stored_decisions(loaded_store)
    assert result.decided == accounts == decisions.height
    assert decisions["account_id"].n_unique() == accounts
    assert result.cycle_id == "2026-H1"
    assert result.by_action == {
        a: int((decisions["action"] == a).sum()) for a in ("decrease", "increase", "keep")
    }
    lengths = decisions.select(
        pl.col("reason_codes").list.len().alias("n"),
        pl.col("reason_texts_zh").list.len().alias("zh"),
        pl.col("reason_texts_en").list.len().alias("en"),
    )
    assert lengths["n"].min() >= 1
    assert lengths["n"].max() <= 4
    assert lengths["n"].to_list() == lengths["zh"].to_list() == lengths["en"].to_list()
    assert set(decisions["action"]) == {"increase", "keep", "decrease"}
    assert set(decisions["grade"].drop_nulls()) == {"excellent", "good", "fair", "poor"}
    assert (decisions["model_version"] == "standin-test-1").all()
    assert (decisions["policy_version"] == load_policy().version).all()
    assert (decisions["as_of"] == AS_OF).all()


def test_account_limits_and_limit_history_follow_the_decisions(loaded_store, scorer):
    """Increases change the limit at once; a decrease waits for its notice period as a pending
    change (tests/review/test_pending_limits.py), so its account keeps the old limit."""
    review_portfolio(loaded_store, scorer, as_of=AS_OF, chunk_rows=400)
    engine = make_engine(loaded_store)
    try:
        decisions = read_decisions(engine)
        with engine.connect() as conn:
            accounts = dict(
                conn.execute(text("SELECT account_id, credit_limit_minor FROM accounts")).all()
            )
            history = conn.execute(
                text(
                    "SELECT account_id, old_limit_minor, new_limit_minor, decision_id, source"
                    " FROM limit_history WHERE source <> 'import'"  # opening limits
                )
            ).all()
            pending = dict(
                conn.execute(text("SELECT decision_id, status FROM pending_limit_changes")).all()
            )
            grades = dict(conn.execute(text("SELECT account_id, grade FROM accounts")).all())
    finally:
        engine.dispose()
    for row in decisions.iter_rows(named=True):
        waits = row["action"] == "decrease"
        limit = row["old_limit_minor"] if waits else row["new_limit_minor"]
        assert accounts[row["account_id"]] == limit
        assert grades[row["account_id"]] == row["grade"]
    decreases = decisions.filter(pl.col("action") == "decrease")
    assert decreases.height > 0
    assert pending == dict.fromkeys(decreases["decision_id"], "pending")
    changed = decisions.filter(pl.col("action") == "increase")
    assert len(history) == changed.height
    by_id = {str(r["decision_id"]): r for r in changed.iter_rows(named=True)}
    for account_id, old, new, decision_id, source in history:
        d = by_id[decision_id]
        assert (account_id, old, new, source) == (
            d["account_id"],
            d["old_limit_minor"],
            d["new_limit_minor"],
            "review",
        )


def test_increases_stay_in_grade_range_and_never_go_to_overdue_accounts(loaded_store, scorer):
    review_portfolio(loaded_store, scorer, as_of=AS_OF)
    decisions = stored_decisions(loaded_store)
    policy = load_policy()
    ranges = {
        g.code: (g.increase_pct.min * 100, g.increase_pct.max * 100)
        for g in policy.limits.grades
        if g.increase_pct
    }
    increases = decisions.filter(pl.col("action") == "increase")
    assert increases.height > 0
    for row in increases.iter_rows(named=True):
        _, high = ranges[row["grade"]]
        # The recorded percentage is the one applied: after a cap and the rounding down to the
        # step it may fall below the range, never above it.
        assert 0 < row["increase_pct_bp"] <= high
        assert row["new_limit_minor"] > row["old_limit_minor"]
        # Never above the grade's range (a cap may cut it back, never past it).
        assert row["new_limit_minor"] <= row["old_limit_minor"] * (10_000 + high) // 10_000
        assert row["consecutive_overdue_months"] == 0
    assert "poor" not in set(increases["grade"])


def test_every_decrease_trigger_of_the_grade_table_is_honoured(loaded_store, scorer):
    review_portfolio(loaded_store, scorer, as_of=AS_OF)
    decisions = stored_decisions(loaded_store)
    # Grade table: excellent ≥ 3, good ≥ 2, fair ≥ 1 consecutive overdue months → decrease
    # (or keep when already at the floor).
    triggers = {"excellent": 3, "good": 2, "fair": 1}
    for grade, months in triggers.items():
        hit = decisions.filter(
            (pl.col("grade") == grade) & (pl.col("consecutive_overdue_months") >= months)
        )
        for row in hit.iter_rows(named=True):
            assert row["action"] == "decrease" or row["reason_codes"][0] == "KEEP_AT_LIMIT_FLOOR"
        below = decisions.filter(
            (pl.col("grade") == grade) & (pl.col("consecutive_overdue_months") < months)
        )
        assert (below["action"] != "decrease").all()
    decreases = decisions.filter(pl.col("action") == "decrease")
    assert decreases.height > 0
    assert (decreases["new_limit_minor"] < decreases["old_limit_minor"]).all()


def test_second_run_in_the_same_cycle_skips_every_account(loaded_store, scorer):
    first = review_portfolio(loaded_store, scorer, as_of=AS_OF, chunk_rows=500)
    history = _scalar(loaded_store, "SELECT COUNT(*) FROM limit_history")
    second = review_portfolio(loaded_store, scorer, as_of=AS_OF + dt.timedelta(days=20))
    assert second.cycle_id == first.cycle_id
    assert second.decided == 0
    assert second.skipped == first.decided
    assert _scalar(loaded_store, "SELECT COUNT(*) FROM limit_decisions") == first.decided
    # Nothing decided again; only the first run's decreases, 20 days on and so past their
    # notice period, took effect before the second run read any account.
    assert second.pending_applied == first.by_action["decrease"] > 0
    assert _scalar(loaded_store, "SELECT COUNT(*) FROM limit_history") == (
        history + second.pending_applied
    )
    assert second.by_action == first.by_action
    runs = _scalar(loaded_store, "SELECT COUNT(*) FROM review_runs WHERE status = 'finished'")
    assert runs == 2


def test_every_limit_change_queues_its_notices_with_its_decision(loaded_store, scorer):
    review_portfolio(loaded_store, scorer, as_of=AS_OF, chunk_rows=500)
    changed = _scalar(
        loaded_store,
        "SELECT COUNT(*) FROM limit_decisions WHERE new_limit_minor <> old_limit_minor",
    )
    noticed = _scalar(
        loaded_store,
        "SELECT COUNT(DISTINCT decision_ref) FROM notify_outbox"
        " WHERE message_type = 'limit_change'",
    )
    assert changed > 0
    assert noticed == changed
    # The tips follow only limits kept at a due review (notify.yaml tips_after_keep).
    tipped_changes = _scalar(
        loaded_store,
        "SELECT COUNT(*) FROM notify_outbox o JOIN limit_decisions d"
        " ON o.decision_ref = 'limit_decision:' || CAST(d.id AS VARCHAR(20))"
        " WHERE o.message_type = 'limit_tips'"
        " AND (d.new_limit_minor <> d.old_limit_minor OR NOT d.due_for_review)",
    )
    assert tipped_changes == 0
    # A second run in the cycle decides nothing, so it tells nothing more.
    before = _scalar(loaded_store, "SELECT COUNT(*) FROM notify_outbox")
    review_portfolio(loaded_store, scorer, as_of=AS_OF)
    assert _scalar(loaded_store, "SELECT COUNT(*) FROM notify_outbox") == before


def test_next_cycle_reviews_again_and_cooling_follows_limit_history(loaded_store, scorer):
    review_portfolio(loaded_store, scorer, as_of=AS_OF)
    # Two months later is the next half-year only in a new cycle: 2026-07-01 is 2026-H2.
    later = review_portfolio(loaded_store, scorer, as_of=dt.date(2026, 7, 1))
    decisions = stored_decisions(loaded_store).filter(pl.col("cycle_id") == "2026-H2")
    assert later.decided == decisions.height > 0
    # Reviewed two months ago: not due, so no increase now.
    assert (decisions["action"] != "increase").all()
    assert set(decisions.filter(pl.col("action") == "keep")["reason_codes"].list.first()) <= {
        "KEEP_NOT_DUE_FOR_REVIEW",
        "KEEP_NO_SCORE",
    }


def test_a_cycles_decisions_are_read_through_its_runs(loaded_store, scorer):
    from cardpilot.jobs.review import cycle_counts
    from cardpilot.store.review_models import cycle_decisions

    first = review_portfolio(loaded_store, scorer, as_of=AS_OF)
    later = review_portfolio(loaded_store, scorer, as_of=dt.date(2026, 7, 1))
    engine = make_engine(loaded_store)
    try:
        for result in (first, later):
            decisions = read_decisions(engine, result.cycle_id)
            assert decisions.height == result.decided > 0
            assert set(decisions["cycle_id"]) == {result.cycle_id}
            assert cycle_counts(engine, result.cycle_id)["action"] == result.by_action
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                query = f"SELECT id FROM limit_decisions WHERE {cycle_decisions()}"
                plan = conn.execute(
                    text(f"EXPLAIN QUERY PLAN {query}"),
                    {"cycle": first.cycle_id},
                ).all()
            assert "ix_limit_decisions_run_account" in " ".join(str(row[-1]) for row in plan)
    finally:
        engine.dispose()


def test_export_has_one_row_per_decision_in_csv_and_parquet(loaded_store, scorer, tmp_path):
    out_csv = tmp_path / "decisions.csv"
    result = review_portfolio(loaded_store, scorer, as_of=AS_OF, out=out_csv)
    csv = pl.read_csv(out_csv, infer_schema=False)
    required = [
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
    ]
    assert set(required) <= set(csv.columns)
    assert csv.height == result.decided
    assert csv["reason_codes"].str.len_chars().min() > 0
    out_pq = tmp_path / "decisions.parquet"
    engine = make_engine(loaded_store)
    try:
        from cardpilot.jobs.review import export_decisions

        assert export_decisions(engine, result.cycle_id, out_pq) == result.decided
    finally:
        engine.dispose()
    pq = pl.read_parquet(out_pq)
    assert pq.schema["reason_codes"] == pl.List(pl.String)
    assert str(pq["old_limit"].dtype).startswith("Decimal")
    row = pq.row(0, named=True)
    assert row["old_limit"] * 100 == row["old_limit_minor"]


def test_policy_in_another_currency_is_refused(loaded_store, scorer):
    limits, reasons = read_policy_data()
    limits["currency"] = "TWD"
    with pytest.raises(ReviewError, match="does not convert"):
        review_portfolio(loaded_store, scorer, policy=policy_from_data(limits, reasons))


def test_default_as_of_is_the_day_after_the_latest_cycle(loaded_store, scorer):
    engine = make_engine(loaded_store)
    try:
        assert default_as_of(engine) == dt.date(2026, 11, 1)
    finally:
        engine.dispose()
    assert review_cycle_id(dt.date(2005, 10, 1), 6) == "2005-H2"
    assert review_cycle_id(dt.date(2005, 10, 1), 12) == "2005"


def test_closed_accounts_are_not_reviewed(loaded_store, scorer):
    engine = make_engine(loaded_store)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE accounts SET status = 'closed' WHERE account_id IN"
                    " (SELECT account_id FROM accounts ORDER BY account_id LIMIT 10)"
                )
            )
    finally:
        engine.dispose()
    result = review_portfolio(loaded_store, scorer, as_of=AS_OF)
    accounts = _scalar(loaded_store, "SELECT COUNT(*) FROM accounts")
    assert result.decided == accounts - 10
    assert result.skipped == 10


def test_export_rejects_unknown_suffix(loaded_store, scorer, tmp_path: Path):
    with pytest.raises(ReviewError, match=r"\.csv or \.parquet"):
        review_portfolio(loaded_store, scorer, as_of=AS_OF, out=tmp_path / "d.xlsx")


def test_each_distinct_list_of_reason_texts_is_stored_once_and_read_back_with_its_decisions(
    loaded_store, scorer
):
    from cardpilot.store.limit_decisions import reason_texts_id

    review_portfolio(loaded_store, scorer, as_of=AS_OF, chunk_rows=400)
    decisions = stored_decisions(loaded_store)
    as_json = decisions.select(
        pl.col(c).list.eval(pl.element().cast(pl.String)).alias(c)
        for c in ("reason_texts_zh", "reason_texts_en")
    ).unique()
    sets = _scalar(loaded_store, "SELECT COUNT(*) FROM reason_text_sets")
    assert sets == as_json.height  # one row per distinct pair of lists, over all the chunks
    # Every new decision refers to its set and keeps no copy of the texts.
    assert (
        _scalar(loaded_store, "SELECT COUNT(*) FROM limit_decisions WHERE reason_texts_id IS NULL")
        == 0
    )
    assert (
        _scalar(
            loaded_store,
            "SELECT COUNT(*) FROM limit_decisions"
            " WHERE reason_texts_zh <> '' OR reason_texts_en <> ''",
        )
        == 0
    )
    # A set's id is the digest of its texts: the same texts always give the same id.
    engine = make_engine(loaded_store)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT id, texts_zh, texts_en FROM reason_text_sets")).all()
    finally:
        engine.dispose()
    assert all(set_id == reason_texts_id(zh, en) for set_id, zh, en in stored)


def test_a_decision_stored_before_text_sets_keeps_its_own_texts(loaded_store, scorer):
    review_portfolio(loaded_store, scorer, as_of=AS_OF, chunk_rows=400)
    engine = make_engine(loaded_store)
    try:
        with engine.begin() as conn:
            account = conn.execute(text("SELECT MIN(account_id) FROM limit_decisions")).scalar_one()
            conn.execute(
                text(
                    "UPDATE limit_decisions SET reason_texts_id = NULL,"
                    " reason_texts_zh = '[\"旧的理由\"]', reason_texts_en = '[\"an older reason\"]'"
                    " WHERE account_id = :a"
                ),
                {"a": account},
            )
    finally:
        engine.dispose()
    decisions = stored_decisions(loaded_store)
    row = decisions.filter(pl.col("account_id") == account).row(0, named=True)
    assert row["reason_texts_zh"] == ["旧的理由"]
    assert row["reason_texts_en"] == ["an older reason"]
    others = decisions.filter(pl.col("account_id") != account)
    assert (others["reason_texts_zh"].list.len() >= 1).all()
