"""A synthetic month replayed through the consumer's store side without the broker, for the
tests that compare what a replay writes (digests) whatever the batch boundaries."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from cardpilot.events.policy import load_events_policy
from cardpilot.events.synthetic import Faults, synthetic_month, with_faults
from cardpilot.store.db import make_engine, upgrade
from cardpilot.store.events import intake_digests
from cardpilot.store.models import Account, Customer
from cardpilot.store.warning_interventions import insert_scores
from cardpilot.stream.batch_intake import Intake
from cardpilot.warning.policy import load_warning_policy

TZ = ZoneInfo("Asia/Shanghai")
SCORED_ON = dt.date(2026, 10, 31)  # the day before the synthetic month


def account_ids(n: int) -> list[str]:
    return [f"R{i:05d}" for i in range(1, n + 1)]


def score_rows(accounts: list[str]) -> list[dict[str, object]]:
    """An early-warning score for each account: every third high, every fourth rising, so
    the shipped warning.yaml's rules fire during the month."""
    return [
        {
            "account_id": a,
            "as_of": SCORED_ON,
            "customer_id": f"C{a}",
            "score": 0.6 if n % 3 == 0 else 0.1,
            "score_change": 0.15 if n % 4 == 0 else 0.0,
            "reason_codes": ["RC_EW_PAYMENT_DROP"],
            "model_version": "replay-test",
            "policy_version": "replay-test",
        }
        for n, a in enumerate(accounts)
    ]


def account_store(url: str, accounts: list[str] | tuple[str, ...]) -> Engine:
    """A migrated store holding ``accounts``, each with a customer of its own."""
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.execute(Customer.__table__.insert(), [{"customer_id": f"C{a}"} for a in accounts])
        session.execute(
            Account.__table__.insert(),
            [
                {"account_id": a, "customer_id": f"C{a}", "credit_limit_minor": 1_000_000}
                for a in accounts
            ],
        )
    return engine


def scored_store(url: str, accounts: list[str]) -> Engine:
    """A migrated store holding ``accounts`` (one customer each) and their scores."""
    engine = account_store(url, accounts)
    with engine.begin() as conn:
        insert_scores(conn, score_rows(accounts))
    return engine


def month_lines(accounts: list[str], per_account: int = 20) -> list[bytes]:
    """The month as published: duplicates, swaps, held-back events and junk included."""
    return with_faults(synthetic_month(accounts, events_per_account=per_account), Faults())


def replay(engine: Engine, lines: list[bytes], batch: int) -> dict[str, str]:
    """``lines`` through the consumer's store side ``batch`` at a time; the intake digests."""
    intake = Intake(engine, load_events_policy(), TZ, load_warning_policy())
    for start in range(0, len(lines), batch):
        intake.process(lines[start : start + batch])
    with engine.connect() as conn:
        return intake_digests(conn)


def event_id_of(raw: bytes) -> str | None:
    """The event id of a published line (None: not an event)."""
    try:
        return str(json.loads(raw)["event_id"])
    except (ValueError, KeyError, TypeError):
        return None


def first_new_event(batches: list[list[bytes]], n: int) -> str:
    """An event id of batch ``n`` that no batch before it holds."""
    before = {event_id_of(raw) for b in batches[:n] for raw in b}
    for raw in batches[n]:
        event_id = event_id_of(raw)
        if event_id is not None and event_id not in before:
            return event_id
    raise AssertionError(f"batch {n} has no event of its own")


def refuse_receipt(engine: Engine, event_id: str) -> None:
    """The store (SQLite) refuses the receipt of ``event_id``: its batch's write fails."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse BEFORE INSERT ON event_receipts"
                f" WHEN NEW.event_id = '{event_id}'"
                " BEGIN SELECT RAISE(ABORT, 'receipt refused'); END"
            )
        )


def accept_receipts(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse"))
