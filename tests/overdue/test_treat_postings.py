"""The overdue treatment posts what it decides to the account ledger: penalty interest, 违约金,
its waiver and its limit actions, keyed by the decision; a re-run posts nothing twice; the
ledger's invariants hold over them; the overdue report reads the charges from the ledger."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
from sqlalchemy import text

from cardpilot.jobs.ledger import check_ledger
from cardpilot.jobs.overdue import treat_overdue
from cardpilot.ledger.postings import POSTING_SCHEMA
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.overdue.treatment_postings import TREATMENT_CHARGES, treatment_postings
from cardpilot.reports.overdue_fees import fee_totals
from cardpilot.store.db import make_engine
from cardpilot.store.overdue_treatments import read_treatments

from .conftest import AS_OF

ZONE = "Asia/Shanghai"


def _postings(url: str) -> pl.DataFrame:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT account_id, kind, amount_minor, idempotency_key, reference, detail,"
                    " source, effective_on FROM ledger_postings ORDER BY idempotency_key"
                )
            ).all()
    finally:
        engine.dispose()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema=["account_id", "kind", "amount", "key", "reference", "detail", "source", "on"],
        orient="row",
    )


def test_a_treatment_posts_its_charges_waiver_and_limit_actions_keyed_by_the_decision(
    overdue_store: str, scorer
) -> None:
    result = treat_overdue(overdue_store, scorer, as_of=AS_OF, timezone=ZONE)
    stored = read_treatments(make_engine(overdue_store), AS_OF)
    posted = _postings(overdue_store)
    assert result.postings == posted.height > 0
    assert set(posted["source"]) == {"decision"}
    assert {str(d)[:10] for d in posted["on"]} == {AS_OF.isoformat()}
    for t in stored.iter_rows(named=True):
        mine = posted.filter(pl.col("key").str.starts_with(f"treat:{t['decision_id']}:"))
        by_kind = dict(mine.group_by("kind").agg(pl.col("amount").sum()).iter_rows())
        assert by_kind.get("penalty_interest", 0) == t["penalty_interest_minor"]
        assert by_kind.get("late_fee", 0) == t["late_fee_minor"]
        assert -(by_kind.get("fee_waiver") or 0) == t["fee_waived_minor"]
        events = mine.filter(pl.col("kind").is_in(["freeze", "limit_change"]))
        expected = {"freeze": ["freeze"], "cut": ["limit_change"], "none": []}[t["limit_action"]]
        assert events["kind"].to_list() == expected
        for detail in events["detail"]:
            assert json.loads(detail)["decision"] == f"overdue_treatment:{t['decision_id']}"
    assert stored.filter(pl.col("fee_waived_minor") > 0).height > 0  # the low-risk waivers
    assert stored.filter(pl.col("limit_action") == "freeze").height > 0


def test_rerunning_a_treatment_posts_nothing_twice(overdue_store: str, scorer) -> None:
    first = treat_overdue(overdue_store, scorer, as_of=AS_OF, timezone=ZONE)
    again = treat_overdue(overdue_store, scorer, as_of=AS_OF, timezone=ZONE)
    assert first.postings > 0
    assert (again.treated, again.postings) == (0, 0)
    assert _postings(overdue_store).height == first.postings


def test_the_ledger_check_covers_the_treatment_postings(overdue_store: str, scorer) -> None:
    treat_overdue(overdue_store, scorer, as_of=AS_OF, timezone=ZONE)
    check = check_ledger(make_engine(overdue_store))
    assert check.postings > 0
    # The hand-made store has statements and no import postings, so only the money the
    # treatment posted is judged (its statements are not reconciled with it).
    for invariant in ("posting_rules", "waived_over_charged", "interest_on_fees", "compounding"):
        assert check.by_invariant[invariant] == 0, check.examples


def test_the_overdue_report_reads_the_treatment_charges_from_the_ledger(
    overdue_store: str, scorer
) -> None:
    treat_overdue(overdue_store, scorer, as_of=AS_OF, timezone=ZONE)
    policy = load_overdue_policy()
    engine = make_engine(overdue_store)
    before = fee_totals(engine, policy, AS_OF)
    posted = _postings(overdue_store)
    assert (
        before.charged_minor
        == posted.filter(pl.col("kind").is_in(["penalty_interest", "late_fee"]))["amount"].sum()
    )
    # The decision's own columns no longer say what the report states: the postings do.
    with engine.begin() as conn:
        conn.execute(text("UPDATE overdue_treatments SET penalty_interest_minor = 0"))
    after = fee_totals(engine, policy, AS_OF)
    assert after.penalty_interest_minor == before.penalty_interest_minor > 0
    engine.dispose()


def test_treatment_postings_split_the_waiver_interest_first_and_skip_zero_charges() -> None:
    frame = pl.DataFrame(
        [
            (7, "acc-1", dt.date(2005, 10, 1), "TWD", 1_000, 300, 1_100, "none", 100, 100),
            (8, "acc-2", dt.date(2005, 10, 1), "TWD", 0, 0, 0, "cut", 100_000, 50_000),
        ],
        schema=TREATMENT_CHARGES,
        orient="row",
    )
    out = treatment_postings(frame, ZONE)
    assert out.schema == POSTING_SCHEMA
    rows = {r["idempotency_key"]: r for r in out.iter_rows(named=True)}
    assert {k: rows[k]["amount_minor"] for k in rows} == {
        "treat:7:penalty_interest": 1_000,
        "treat:7:late_fee": 300,
        "treat:7:waiver:penalty_interest": -1_000,
        "treat:7:waiver:late_fee": -100,
        "treat:8:limit_change": None,
    }
    assert rows["treat:7:waiver:late_fee"]["reference"] == "treat:7:late_fee"
    assert rows["treat:7:penalty_interest"]["basis"] == "principal"
    # The start of 2005-10-01 in Shanghai, in UTC.
    assert rows["treat:8:limit_change"]["effective_at"] == dt.datetime(
        2005, 9, 30, 16, tzinfo=dt.UTC
    )
    assert json.loads(rows["treat:8:limit_change"]["detail"])["new_limit_minor"] == 50_000
