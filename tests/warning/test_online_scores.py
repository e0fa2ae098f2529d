"""The early-warning score online: the event consumer scores each event's account with the
registered model on the features ``warn run`` computes, so after the same events the
consumer and ``warn run`` on that day give the same score, change, reasons and model
version; what the events add since the statement moves the score; the interventions the
rules give online record the model's version."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from sqlalchemy import Connection, text

from cardpilot.events.policy import load_events_policy
from cardpilot.events.schema import CashAdvance, Payment, Purchase, StatementIssued, to_json
from cardpilot.jobs.warning import run_warning
from cardpilot.scoring.registry import load_model_dir
from cardpilot.store.account_chunks import ChunkFrames
from cardpilot.store.db import make_engine, open_store, unit_of_work
from cardpilot.store.models import Account, Customer, Statement
from cardpilot.store.warning_reads import event_inputs, scoring_frames
from cardpilot.stream.batch_intake import Intake
from cardpilot.stream.intake_process import IntakeProcess
from cardpilot.stream.online_scores import OnlineScorer
from cardpilot.warning.features import warning_features
from cardpilot.warning.policy import load_warning_policy
from cardpilot.warning.scores import warning_pd

TZ = ZoneInfo("Asia/Shanghai")
PREVIOUS = dt.date(2026, 10, 31)  # the run before the events (and the latest statement)
DAY = dt.date(2026, 11, 5)  # the events' day, and the second run's
CYCLES = [dt.date(2026, m, d) for m, d in ((5, 31), (6, 30), (7, 31), (8, 31), (9, 30))]
LIMIT = 1_000_000
ACCOUNTS = [f"ON{i:02d}" for i in range(12)]


def _balance(i: int, cycle: dt.date) -> int:
    """Balances climbing at an account's own pace (utilisation 0.10 three cycles back)."""
    step = (cycle.month - 5) if cycle != PREVIOUS else 5
    return 100_000 + i * 6_000 * max(step - 1, 0)


def _store(url: str) -> None:
    engine = open_store(url)
    with unit_of_work(engine) as s:
        for a in ACCOUNTS:
            s.add(Customer(customer_id=f"c-{a}", birth_year=1985, locale="zh-CN"))
        s.flush()
        for a in ACCOUNTS:
            s.add(
                Account(
                    account_id=a,
                    customer_id=f"c-{a}",
                    credit_limit_minor=LIMIT,
                    open_date=dt.date(2024, 1, 15),
                )
            )
        s.flush()
        for i, a in enumerate(ACCOUNTS):
            for cycle in [*CYCLES, PREVIOUS]:
                balance = _balance(i, cycle)
                s.add(
                    Statement(
                        account_id=a,
                        cycle_date=cycle,
                        due_date=cycle + dt.timedelta(days=20),
                        credit_limit_minor=LIMIT,
                        statement_balance_minor=balance,
                        minimum_due_minor=balance // 10,
                        amount_paid_minor=20_000 + 1_000 * i,
                        repayment_status=0,
                        days_past_due=0,
                    )
                )
    engine.dispose()


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), TZ)


def _lines() -> list[bytes]:
    """Per account: the latest statement as an event, then on ``DAY`` spending (more for
    the later accounts), a cash advance for every third and a payment for every other."""
    out: list[bytes] = []
    for i, a in enumerate(ACCOUNTS):
        common: dict[str, Any] = {"schema_version": 1, "account_id": a, "currency": "CNY"}
        balance = _balance(i, PREVIOUS)
        events: list[Any] = [
            StatementIssued(
                **common,
                event_id=f"{a}-s",
                sequence=1,
                occurred_at=_at(PREVIOUS, 20),
                type="statement_issued",
                cycle_date=PREVIOUS,
                due_date=PREVIOUS + dt.timedelta(days=20),
                statement_balance_minor=balance,
                minimum_due_minor=balance // 10,
                credit_limit_minor=LIMIT,
            ),
            Purchase(
                **common,
                event_id=f"{a}-p",
                sequence=2,
                occurred_at=_at(DAY, 10),
                type="purchase",
                amount_minor=5_000 + 40_000 * i,
            ),
        ]
        if i % 3 == 0:
            events.append(
                CashAdvance(
                    **common,
                    event_id=f"{a}-c",
                    sequence=3,
                    occurred_at=_at(DAY, 11),
                    type="cash_advance",
                    amount_minor=30_000,
                )
            )
        if i % 2 == 0:
            events.append(
                Payment(
                    **common,
                    event_id=f"{a}-y",
                    sequence=len(events) + 1,
                    occurred_at=_at(DAY, 12),
                    type="payment",
                    amount_minor=balance // 5,
                )
            )
        out += [to_json(e) for e in events]
    return out


class RecordingScorer(OnlineScorer):
    """The consumer's scorer, keeping each batch's rescored rows, with the model's reasons for
    every row (the consumer works them out only where a rule holds)."""

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.seen: list[pl.DataFrame] = []

    def rescore(self, conn: Connection, rows: pl.DataFrame) -> pl.DataFrame:
        out = super().rescore(conn, rows)
        self.seen.append(self.reasons_for(out))
        return out


def _stored_scores(url: str, day: dt.date) -> dict[str, dict[str, Any]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT account_id, score, score_change, reason_codes, model_version"
                    " FROM warning_scores WHERE as_of = :d"
                ),
                {"d": day},
            ).mappings()
            return {
                r["account_id"]: {**r, "reason_codes": json.loads(r["reason_codes"])} for r in rows
            }
    finally:
        engine.dispose()


def _frames(url: str, day: dt.date) -> ChunkFrames:
    """The store rows the early-warning features of ``ACCOUNTS`` read, as of ``day``."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return scoring_frames(conn, ACCOUNTS, day)
    finally:
        engine.dispose()


def _consume(url: str, scorer: OnlineScorer, batch: int) -> None:
    engine = make_engine(url)
    try:
        intake = Intake(engine, load_events_policy(), TZ, load_warning_policy(), scorer)
        lines = _lines()
        for start in range(0, len(lines), batch):
            intake.process(lines[start : start + batch])
    finally:
        engine.dispose()


@pytest.mark.parametrize("batch", [7, 1000])
def test_the_consumer_scores_an_account_as_warn_run_does_after_the_same_events(
    tmp_path: Path, event_warning_model: Path, batch: int
) -> None:
    url = f"sqlite:///{tmp_path / 'online.db'}"
    _store(url)
    model = load_model_dir(event_warning_model)
    run_warning(url, as_of=PREVIOUS, model=model, timezone="Asia/Shanghai")
    scorer = RecordingScorer(model)
    _consume(url, scorer, batch)
    online = pl.concat(scorer.seen).filter(pl.col("as_of") == DAY)
    last = online.group_by("account_id", maintain_order=True).last()
    assert last.height == len(ACCOUNTS)

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            stored = event_inputs(conn, ACCOUNTS[0], ACCOUNTS[-1], DAY, TZ)
    finally:
        engine.dispose()
    inputs = ["account_id", "utilisation", "spend_to_6m_average"]
    # What warn run reads of the running features is, to the bit, what the events' rows held.
    assert stored.sort("account_id").equals(last.select(inputs).sort("account_id"))
    run_warning(url, as_of=DAY, model=model, timezone="Asia/Shanghai")
    batch_scores = _stored_scores(url, DAY)
    for row in last.iter_rows(named=True):
        stored = batch_scores[row["account_id"]]
        assert row["score"] == stored["score"]
        assert row["score_change"] == stored["score_change"]
        assert row["reason_codes"] == stored["reason_codes"]
        assert row["model_version"] == stored["model_version"] == model.version


def test_what_the_events_add_moves_the_score(tmp_path: Path, event_warning_model: Path) -> None:
    url = f"sqlite:///{tmp_path / 'moved.db'}"
    _store(url)
    model = load_model_dir(event_warning_model)
    scorer = RecordingScorer(model)
    _consume(url, scorer, 1000)
    online = pl.concat(scorer.seen).filter(pl.col("as_of") == DAY)
    last = online.group_by("account_id", maintain_order=True).last().sort("account_id")
    statements_only = warning_features(_frames(url, DAY), DAY).sort("account_id")
    moved = last.get_column("score") != warning_pd(model, statements_only)
    assert moved.sum() >= len(ACCOUNTS) // 2
    assert last.get_column("score_change").null_count() == len(ACCOUNTS)  # no run before


def test_the_interventions_given_online_record_the_model_and_its_reasons(
    tmp_path: Path, event_warning_model: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'fired.db'}"
    _store(url)
    model = load_model_dir(event_warning_model)
    _consume(url, OnlineScorer(model), 1000)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT model_version, score, reasons FROM warning_interventions")
            ).all()
    finally:
        engine.dispose()
    scored = [r for r in rows if r[1] is not None]
    assert scored
    assert {r[0] for r in scored} == {model.version}
    assert all(len(json.loads(r[2])) > 1 for r in scored)  # the rule's reason and the model's


def _interventions(url: str) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [
                tuple(r)
                for r in conn.execute(
                    text(
                        "SELECT decision_ref, account_id, as_of, rule, intervention, reasons,"
                        " advice, score, score_change, model_version FROM warning_interventions"
                        " ORDER BY decision_ref"
                    )
                )
            ]
    finally:
        engine.dispose()


def test_the_intake_process_scores_online_as_the_consumer_s_own_thread_does(
    tmp_path: Path, event_warning_model: Path
) -> None:
    """The scorer goes to the intake's process pickled, as a fresh scorer of the same model."""
    model = load_model_dir(event_warning_model)
    here, there = (f"sqlite:///{tmp_path / name}" for name in ("here.db", "there.db"))
    _store(here)
    _store(there)
    _consume(here, OnlineScorer(model), 1000)
    intake = IntakeProcess(
        there, load_events_policy(), TZ, load_warning_policy(), OnlineScorer(model)
    )
    try:
        lines = _lines()
        for done in [intake.submit(lines[s : s + 1000]) for s in range(0, len(lines), 1000)]:
            done.result(timeout=120)
    finally:
        intake.close()
    fired = _interventions(here)
    assert any(r[-1] == model.version for r in fired)
    assert _interventions(there) == fired


@pytest.mark.parametrize(
    ("locale", "words"),
    [("en", "No early-warning model is registered"), ("zh-CN", "未注册预警模型")],
)
def test_without_a_registered_model_the_consumer_keeps_the_stored_scores_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, locale: str, words: str
) -> None:
    from cardpilot.cli.events import online_scorer
    from cardpilot.cli.i18n import current_locale, use_locale
    from cardpilot.config import get_settings

    monkeypatch.setenv("CARDPILOT_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    before = current_locale()
    use_locale(locale)
    try:
        assert online_scorer() is None
    finally:
        use_locale(before)
        get_settings.cache_clear()
    said = capsys.readouterr().err
    assert words in said
    assert "cardpilot warn run" in said


def test_the_registered_warning_champion_scores_online(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, event_warning_model: Path
) -> None:
    from cardpilot.cli.events import online_scorer
    from cardpilot.config import get_settings
    from cardpilot.scoring.registry import Registry

    home = tmp_path / "home"
    Registry(home).register(event_warning_model)
    monkeypatch.setenv("CARDPILOT_HOME", str(home))
    get_settings.cache_clear()
    try:
        scorer = online_scorer()
    finally:
        get_settings.cache_clear()
    assert scorer is not None
    assert scorer.version == load_model_dir(event_warning_model).version


def test_the_score_change_is_measured_from_the_run_before_the_day_not_one_on_it(
    tmp_path: Path, event_warning_model: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'change.db'}"
    _store(url)
    model = load_model_dir(event_warning_model)
    run_warning(url, as_of=PREVIOUS, model=model, timezone="Asia/Shanghai")
    run_warning(url, as_of=DAY, model=model, timezone="Asia/Shanghai")  # before the events
    scorer = RecordingScorer(model)
    _consume(url, scorer, 1000)
    before = _stored_scores(url, PREVIOUS)
    online = pl.concat(scorer.seen).filter(pl.col("as_of") == DAY)
    for row in online.iter_rows(named=True):
        assert row["score_change"] == row["score"] - before[row["account_id"]]["score"]


def test_every_event_gets_the_probability_its_own_features_give(
    tmp_path: Path, event_warning_model: Path
) -> None:
    """The consumer asks the model once per account, key day and cell of the moved
    features; each event's score is still the model's on that event's own features."""
    url = f"sqlite:///{tmp_path / 'every.db'}"
    _store(url)
    model = load_model_dir(event_warning_model)
    scorer = RecordingScorer(model)
    _consume(url, scorer, 5)
    rows = pl.concat(scorer.seen).filter(pl.col("model_version") == model.version)
    assert rows.height >= 2 * len(ACCOUNTS)
    frames = _frames(url, PREVIOUS)
    for row in rows.iter_rows(named=True):
        inputs = pl.DataFrame(
            [{k: row[k] for k in ("account_id", "utilisation", "spend_to_6m_average")}],
            schema={
                "account_id": pl.String(),
                "utilisation": pl.Float64(),
                "spend_to_6m_average": pl.Float64(),
            },
        )
        one = warning_features(frames, row["as_of"], events=inputs).filter(
            pl.col("account_id") == row["account_id"]
        )
        assert row["score"] == warning_pd(model, one)[0]
        assert row["reason_codes"] == model.score(one)["reason_codes"].to_list()[0]
