"""One account's story as of a day: statements, postings, balances, decisions with reasons,
plans with their events, watch flags and contacts, personal data masked, on both stores."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from cardpilot.accounts.story import STORY_KEYS, account_story
from cardpilot.cli.output import envelope_data
from cardpilot.config import Settings
from cardpilot.domain.figures import json_value
from cardpilot.jobs.importing import import_portfolio
from cardpilot.ledger.postings import Kind, Posting, Source
from cardpilot.privacy import FieldCipher
from cardpilot.store import ledger
from cardpilot.store.db import make_engine, unit_of_work
from cardpilot.store.notify_models import OutboxMessage
from cardpilot.store.overdue_models import PlanEvent, RepaymentPlan
from cardpilot.store.review_models import (
    LimitDecisionRecord,
    LimitWatch,
    ReasonTextSet,
    ReviewRun,
    WatchFlag,
)

from .portfolio import with_customer, write_folder

NAME, PHONE = "王小明", "13812345678"
TABLES = with_customer(name=NAME, phone=PHONE)


def _now() -> dt.datetime:
    return dt.datetime(2025, 3, 2, 8, tzinfo=dt.UTC)


def _records(url: str) -> None:
    engine = make_engine(url)
    with unit_of_work(engine) as session:
        run = ReviewRun(
            cycle_id="2025-03",
            as_of=dt.date(2025, 3, 1),
            policy_version="p1",
            model_version="m1",
            engine="local",
            status="finished",
            started_at=_now(),
        )
        session.add(run)
        session.add(ReasonTextSet(id="t1", texts_zh='["按时还款"]', texts_en='["Paid on time"]'))
        session.flush()
        decision = LimitDecisionRecord(
            run_id=run.id,
            cycle_id="2025-03",
            account_id="A1",
            as_of=dt.date(2025, 3, 1),
            due_for_review=True,
            action="increase",
            old_limit_minor=1_000_000,
            new_limit_minor=1_200_000,
            reason_codes='["PAID_ON_TIME"]',
            reason_texts_zh="",
            reason_texts_en="",
            reason_texts_id="t1",
            policy_version="p1",
            model_version="m1",
        )
        session.add(decision)
        session.flush()
        watch = LimitWatch(
            account_id="A1",
            decision_id=decision.id,
            started_on=dt.date(2025, 3, 1),
            ends_on=dt.date(2025, 9, 1),
            old_limit_minor=1_000_000,
            new_limit_minor=1_200_000,
            policy_version="p1",
        )
        session.add(watch)
        session.flush()
        session.add(
            WatchFlag(
                watch_id=watch.id,
                account_id="A1",
                cycle_date=dt.date(2025, 3, 31),
                rule="utilisation_jump",
                reason_code="WATCH_UTILISATION",
            )
        )
        session.add(
            RepaymentPlan(
                plan_id="PL1",
                account_id="A1",
                customer_id="C1",
                kind="equal_principal",
                months=3,
                principal_minor=30_000,
                penalty_fees_minor=0,
                waiver_share_bp=5_000,
                instalments='[["2025-04-20", 10000], ["2025-05-20", 10000]]',
                period_months=1,
                grace_days=3,
                offered_on=dt.date(2025, 3, 1),
                policy_version="p1",
                status="active",
            )
        )
        session.flush()
        session.add(
            PlanEvent(
                event_id="PL1:accepted",
                plan_id="PL1",
                customer_id="C1",
                kind="accepted",
                event_date=dt.date(2025, 3, 2),
            )
        )
        session.add(
            OutboxMessage(
                message_key="m1",
                customer_id="C1",
                account_id="A1",
                message_type="limit_increase",
                category="service",
                channel="sms",
                locale="zh-CN",
                body_text=f"{NAME} 您好",
                templates_version="t1",
                next_attempt_at=_now(),
                created_at=_now(),
            )
        )
    with engine.begin() as conn:
        ledger.append_posting(
            conn,
            Posting(
                account_id="A1",
                kind=Kind.CONTACT,
                effective_at=dt.datetime(2025, 3, 3, 10, tzinfo=dt.UTC),
                source=Source.EVENT,
                idempotency_key="contact:A1:1",
                detail='{"channel": "phone", "outcome": "promise_to_pay"}',
            ),
        )
    engine.dispose()


def _build(url: str, folder: Path, settings: Settings) -> None:
    import_portfolio(
        write_folder(folder, TABLES),
        layout="generic",
        database_url=url,
        settings=settings,
        today=dt.date(2025, 3, 5),
    )
    _records(url)


@pytest.fixture
def story_store(store_url: str, tmp_path: Path) -> tuple[str, Settings]:
    settings = Settings(home=tmp_path / "home")
    _build(store_url, tmp_path / "portfolio", settings)
    return store_url, settings


def _story(url: str, settings: Settings, day: dt.date) -> dict[str, object] | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return account_story(conn, "A1", day, FieldCipher.from_settings(settings).decrypt)
    finally:
        engine.dispose()


def test_the_story_holds_every_part_with_personal_data_masked(
    story_store: tuple[str, Settings],
) -> None:
    story = _story(*story_store, dt.date(2025, 3, 31))
    assert story is not None
    assert set(STORY_KEYS) <= set(story)
    text = json.dumps(story, ensure_ascii=False)
    assert NAME not in text
    assert PHONE not in text
    customer = story["account"]["customer"]  # type: ignore[index]
    assert customer["name"].startswith("王")
    assert customer["phone"].endswith("5678")
    assert story["balances"] == {
        "as_of": "2025-03-31",
        "currency": "CNY",
        "principal": "300.00",
        "interest": "0.00",
        "fees": "0.00",
        "total": "300.00",
    }
    assert len(story["statements"]) == 2  # type: ignore[arg-type]
    keys = [p["key"] for p in story["postings"]]  # type: ignore[attr-defined,union-attr]
    assert keys[0] == "open:A1"
    assert "tx:P1" in keys
    assert "contact:A1:1" in keys
    (decision,) = story["decisions"]  # type: ignore[misc]
    assert decision["reasons"] == [{"code": "PAID_ON_TIME", "zh": "按时还款", "en": "Paid on time"}]
    assert (decision["new_limit"], decision["policy_version"]) == ("12000.00", "p1")
    (plan,) = story["plans"]  # type: ignore[misc]
    assert [e["kind"] for e in plan["events"]] == ["accepted"]
    assert plan["instalments"][0] == {"due_date": "2025-04-20", "amount": "100.00"}
    assert [f["rule"] for f in story["watch_flags"]] == ["utilisation_jump"]  # type: ignore[attr-defined,union-attr]
    assert [c["type"] for c in story["contacts"]] == ["limit_increase", "contact"]  # type: ignore[attr-defined,union-attr]


def test_the_story_is_built_in_the_json_convention_so_it_is_sent_as_it_is(
    story_store: tuple[str, Settings],
) -> None:
    story = _story(*story_store, dt.date(2025, 3, 31))
    assert story is not None
    assert json_value(story) == story
    assert story["plans"][0]["waiver_share"] == "0.500000"  # type: ignore[index]


@pytest.mark.postgres
def test_a_postgres_store_tells_the_same_story_as_sqlite(
    postgres_store_url: str, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home")  # one key ring: the same personal data
    sqlite_url = f"sqlite:///{tmp_path / 'story.db'}"
    _build(sqlite_url, tmp_path / "sqlite", settings)
    _build(postgres_store_url, tmp_path / "postgres", settings)
    for day in (dt.date(2025, 1, 31), dt.date(2025, 3, 31)):
        on_sqlite = _story(sqlite_url, settings, day)
        assert on_sqlite is not None
        assert _story(postgres_store_url, settings, day) == on_sqlite


def test_an_earlier_day_tells_only_what_had_happened_by_then(
    story_store: tuple[str, Settings],
) -> None:
    story = _story(*story_store, dt.date(2025, 1, 31))
    assert story is not None
    assert [s["cycle_date"] for s in story["statements"]] == ["2025-01-31"]  # type: ignore[attr-defined,union-attr]
    assert story["balances"]["total"] == "500.00"  # type: ignore[index]
    for part in ("decisions", "plans", "watch_flags", "contacts"):
        assert story[part] == []
    assert _story(*story_store, dt.date(2025, 1, 1)) is not None
    engine = make_engine(story_store[0])
    with engine.connect() as conn:
        assert account_story(conn, "nope", dt.date(2025, 1, 1)) is None
    engine.dispose()


def test_account_show_prints_the_story_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cardpilot.cli import app

    monkeypatch.setenv("CARDPILOT_HOME", str(tmp_path / "home"))
    folder = write_folder(tmp_path / "portfolio", TABLES)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert (
        CliRunner().invoke(app, ["import", str(folder), "--database", url, "--json"]).exit_code == 0
    )

    result = CliRunner().invoke(
        app, ["account", "show", "A1", "--as-of", "2025-02-28", "--database", url, "--json"]
    )

    assert result.exit_code == 0, result.output
    story = envelope_data(result.stdout)
    assert story["balances"]["total"] == "300.00"
    assert NAME not in result.stdout
    missing = CliRunner().invoke(app, ["account", "show", "nope", "--database", url])
    assert missing.exit_code != 0
