"""A decrease waits for its notice period, on SQLite and PostgreSQL: stored as a pending change
with its effective date, shown in the account's story, applied once by the first job whose
as-of date reaches it (limit history, account limit, a ``limit_change`` ledger event, an audit
record), and superseded by a later decision or by a limit that moved meanwhile."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from typer.testing import CliRunner

from cardpilot.batch.pending_limits import apply_pending_limits
from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.config import get_settings
from cardpilot.jobs.cases import decide_review_case, open_review_case
from cardpilot.jobs.review import review_portfolio
from cardpilot.notify.compose import format_day
from cardpilot.notify.policy import default_policy
from cardpilot.policy.cases import load_case_policy
from cardpilot.store.audit import iter_records
from cardpilot.store.db import make_engine
from cardpilot.store.limit_decisions import read_decisions
from cardpilot.store.models import Base, import_all_models

runner = CliRunner()
AS_OF = dt.date(2026, 5, 1)
NOTICE_DAYS = default_policy().limit_notices.decrease_notice_days
EFFECTIVE = AS_OF + dt.timedelta(days=NOTICE_DAYS)
NEXT_REVIEW = dt.date(2026, 11, 1)  # six months on: due again, with statements since


def _rows(url: str, sql: str, params: dict | None = None) -> list[tuple]:
    db = make_engine(url)
    try:
        with db.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params or {})]
    finally:
        db.dispose()


def _decreases(url: str) -> pl.DataFrame:
    db = make_engine(url)
    try:
        decisions = read_decisions(db)
    finally:
        db.dispose()
    return decisions.filter(pl.col("action") == "decrease")


def _limits(url: str) -> dict[str, int]:
    return dict(_rows(url, "SELECT account_id, credit_limit_minor FROM accounts"))  # type: ignore[arg-type]


def _apply(url: str, day: dt.date):  # type: ignore[no-untyped-def]
    db = make_engine(url)
    try:
        return apply_pending_limits(db, day, zone="Asia/Shanghai")
    finally:
        db.dispose()


def test_the_pending_table_is_what_the_models_say(store_url: str) -> None:
    from cardpilot.store.db import upgrade

    import_all_models()
    upgrade(store_url)
    db = make_engine(store_url)

    def ours(obj: object, name: str | None, type_: str, *rest: object) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table == "pending_limit_changes"

    try:
        with db.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": ours})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        db.dispose()


def test_a_decrease_waits_for_its_notice_period_and_is_applied_once_when_due(loaded_store, scorer):
    before = _limits(loaded_store)
    result = review_portfolio(loaded_store, scorer, as_of=AS_OF)
    decreases = _decreases(loaded_store)
    assert decreases.height == result.by_action["decrease"] > 0
    ids = sorted(decreases["decision_id"].to_list())
    # Stored with the decision, the account's limit untouched until its effective date.
    pending = _rows(
        loaded_store,
        "SELECT decision_id, status, effective_on, new_limit_minor FROM pending_limit_changes"
        " ORDER BY decision_id",
    )
    assert [p[0] for p in pending] == ids
    assert {p[1] for p in pending} == {"pending"}
    assert {str(p[2])[:10] for p in pending} == {EFFECTIVE.isoformat()}
    limits = _limits(loaded_store)
    for row in decreases.iter_rows(named=True):
        assert limits[row["account_id"]] == before[row["account_id"]] == row["old_limit_minor"]
    # Each decrease's notice gives the day it takes effect: the pending change's day.
    told = _rows(
        loaded_store,
        "SELECT decision_ref, locale, body_text FROM notify_outbox"
        " WHERE message_type = 'limit_change'",
    )
    refs = {f"limit_decision:{i}" for i in ids}
    decrease_notices = [(loc, body) for ref, loc, body in told if ref in refs]
    assert decrease_notices
    for locale, body in decrease_notices:
        assert format_day(EFFECTIVE, locale) in body, body

    early = _apply(loaded_store, EFFECTIVE - dt.timedelta(days=1))
    assert (early.applied, early.superseded) == (0, 0)
    assert _limits(loaded_store) == limits

    due = _apply(loaded_store, EFFECTIVE)
    assert due.applied == len(ids)
    limits = _limits(loaded_store)
    for row in decreases.iter_rows(named=True):
        assert limits[row["account_id"]] == row["new_limit_minor"]
    history = _rows(
        loaded_store,
        "SELECT decision_id, effective_at, old_limit_minor, new_limit_minor FROM limit_history"
        " WHERE note = 'decrease'",
    )
    assert sorted(int(h[0]) for h in history) == ids
    assert {str(h[1])[:10] for h in history} == {EFFECTIVE.isoformat()}
    events = _rows(
        loaded_store,
        "SELECT idempotency_key, amount_minor, detail, effective_on FROM ledger_postings"
        " WHERE kind = 'limit_change'",
    )
    assert sorted(e[0] for e in events) == sorted(f"limit_change:{i}" for i in ids)
    assert {e[1] for e in events} == {None}
    assert {str(e[3])[:10] for e in events} == {EFFECTIVE.isoformat()}
    first = json.loads(events[0][2])
    assert first["new_limit_minor"] < first["old_limit_minor"]
    db = make_engine(loaded_store)
    try:
        audited = [r for r in iter_records(db) if r.action == "limits.apply_pending"]
    finally:
        db.dispose()
    assert len(audited) == 1
    assert json.loads(audited[0].payload)["applied"] == len(ids)

    # Applying again (the same day, or later) changes nothing.
    counts = [len(history), len(events)]
    again = _apply(loaded_store, EFFECTIVE + dt.timedelta(days=30))
    assert (again.applied, again.superseded) == (0, 0)
    assert _limits(loaded_store) == limits
    assert (
        len(_rows(loaded_store, "SELECT id FROM limit_history WHERE note = 'decrease'"))
        == (counts[0])
    )
    assert (
        len(_rows(loaded_store, "SELECT id FROM ledger_postings WHERE kind = 'limit_change'"))
        == (counts[1])
    )


@pytest.fixture
def fixture_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The home whose keys the fixture's import encrypted the customers with (``account
    show`` decrypts them to mask them)."""
    monkeypatch.setenv("CARDPILOT_HOME", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_the_account_story_shows_the_pending_decrease_and_the_cli_applies_it(
    loaded_store, scorer, fixture_home
):
    review_portfolio(loaded_store, scorer, as_of=AS_OF)
    row = _decreases(loaded_store).row(0, named=True)
    account = row["account_id"]
    shown = runner.invoke(
        app, ["account", "show", account, "--as-of", AS_OF.isoformat(), "--json",
              "--database", loaded_store],
    )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    story = envelope_data(shown.stdout)
    waiting = story["account"]["pending_limit"]
    assert waiting["status"] == "pending"
    assert waiting["effective_on"] == EFFECTIVE.isoformat()
    assert waiting["decision_id"] == row["decision_id"]
    assert story["pending_limit_changes"] == [waiting]

    applied = runner.invoke(
        app, ["limits", "apply-pending", "--as-of", EFFECTIVE.isoformat(), "--json",
              "--database", loaded_store],
    )  # fmt: skip
    assert applied.exit_code == 0, applied.output
    assert envelope_data(applied.stdout)["applied"] == _decreases(loaded_store).height
    twice = runner.invoke(
        app, ["limits", "apply-pending", "--as-of", EFFECTIVE.isoformat(), "--json",
              "--database", loaded_store],
    )  # fmt: skip
    assert envelope_data(twice.stdout)["applied"] == 0
    later = runner.invoke(
        app, ["account", "show", account, "--as-of", EFFECTIVE.isoformat(), "--json",
              "--database", loaded_store],
    )  # fmt: skip
    story = envelope_data(later.stdout)
    assert story["account"]["pending_limit"] is None
    assert story["pending_limit_changes"][0]["status"] == "applied"
    assert story["pending_limit_changes"][0]["applied_on"] == EFFECTIVE.isoformat()
    assert any(p["kind"] == "limit_change" for p in story["postings"])


def test_an_analysts_override_in_the_notice_period_supersedes_the_pending_decrease(
    loaded_store, scorer
):
    review_portfolio(loaded_store, scorer, as_of=AS_OF)
    row = _decreases(loaded_store).row(0, named=True)
    account, old = row["account_id"], row["old_limit_minor"]
    db = make_engine(loaded_store)
    try:
        case = open_review_case(db, account, "客户来电申请人工复核")
        decided = decide_review_case(
            db, case.id, "override", "收入证明已核实", load_case_policy(),
            new_limit_minor=old + 100_000, today=AS_OF + dt.timedelta(days=1),
        )  # fmt: skip
    finally:
        db.dispose()
    ((status, superseded_by),) = _rows(
        loaded_store,
        "SELECT status, superseded_by FROM pending_limit_changes WHERE decision_id = :d",
        {"d": row["decision_id"]},
    )
    assert (status, superseded_by) == ("superseded", decided.override_decision_id)
    applied = _apply(loaded_store, EFFECTIVE)
    assert applied.applied == _decreases(loaded_store).height - 1
    assert _limits(loaded_store)[account] == old + 100_000


def test_a_later_due_review_supersedes_a_pending_decrease(loaded_store, scorer):
    # A notice period long enough for the next cycle's review to fall inside it.
    policy = default_policy()
    settings = policy.limit_notices.model_copy(update={"decrease_notice_days": 200})
    long = policy.model_copy(update={"limit_notices": settings})
    review_portfolio(loaded_store, scorer, as_of=AS_OF, notify_policy=long)
    first = _decreases(loaded_store)
    later = review_portfolio(loaded_store, scorer, as_of=NEXT_REVIEW, notify_policy=long)
    assert later.decided > 0
    assert later.pending_applied == 0
    states = dict(
        _rows(
            loaded_store,
            "SELECT p.decision_id, p.status FROM pending_limit_changes p"
            " JOIN limit_decisions d ON d.id = p.decision_id WHERE d.cycle_id = '2026-H1'",
        )
    )
    assert set(states) == set(first["decision_id"])
    second = _decisions_of(loaded_store, "2026-H2")
    # A due review, or a change, reconsiders the limit; a limit kept because no review was due
    # leaves the pending decrease waiting.
    reconsidered = set(
        second.filter(pl.col("due_for_review") | (pl.col("action") != "keep"))["account_id"]
    )
    for row in first.iter_rows(named=True):
        expected = "superseded" if row["account_id"] in reconsidered else "pending"
        assert states[row["decision_id"]] == expected, row["account_id"]
    superseded = {d for d, s in states.items() if s == "superseded"}
    assert superseded
    # The superseded ones are never applied, however late the job.
    _apply(loaded_store, dt.date(2027, 6, 1))
    history = _rows(loaded_store, "SELECT decision_id FROM limit_history WHERE note = 'decrease'")
    assert not {int(h[0]) for h in history} & superseded


def _decisions_of(url: str, cycle_id: str) -> pl.DataFrame:
    db = make_engine(url)
    try:
        return read_decisions(db, cycle_id)
    finally:
        db.dispose()


def test_a_due_decrease_whose_limit_moved_meanwhile_is_superseded_not_applied(loaded_store, scorer):
    review_portfolio(loaded_store, scorer, as_of=AS_OF)
    row = _decreases(loaded_store).row(0, named=True)
    moved = row["old_limit_minor"] - 1_000  # an overdue treatment's cut, say
    db = make_engine(loaded_store)
    try:
        with db.begin() as conn:
            conn.execute(
                text("UPDATE accounts SET credit_limit_minor = :v WHERE account_id = :a"),
                {"v": moved, "a": row["account_id"]},
            )
    finally:
        db.dispose()
    applied = _apply(loaded_store, EFFECTIVE)
    assert applied.superseded == 1
    assert _limits(loaded_store)[row["account_id"]] == moved
    ((status, note),) = _rows(
        loaded_store,
        "SELECT status, note FROM pending_limit_changes WHERE decision_id = :d",
        {"d": row["decision_id"]},
    )
    assert status == "superseded"
    assert "changed" in note
