"""The early-warning rules online: the consumer on the real broker judges every applied event
by warning.yaml's rules as of its day, with the score of the latest batch run, and stores and
queues what fired in the batch's transaction; a second run over the same events adds nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, text

from cardpilot.events.policy import load_events_policy
from cardpilot.store.warning_interventions import insert_scores
from cardpilot.stream.broker import Broker
from cardpilot.stream.consumer import ConsumeCounts, ConsumeOptions, consume
from cardpilot.warning.policy import load_warning_policy

from ..factories import START, line
from .helpers import TZ, make_store, publish

DUE = (START + dt.timedelta(days=20)).date()  # the statement's due date: 2026-11-21
NEAR_DUE = START + dt.timedelta(days=18)  # two days before it


def consume_all(engine: Engine, broker: Broker) -> ConsumeCounts:
    """Everything on the stream, with the shipped warning.yaml."""
    options = ConsumeOptions(batch=100, ack_wait_s=2.0, fetch_timeout_s=0.5, idle_exit_s=1.0)
    stop = asyncio.Event()
    warning = load_warning_policy()
    return asyncio.run(
        consume(engine, broker, load_events_policy(), TZ, options, stop, warning=warning)
    )


def _scores(engine, accounts: dict[str, float]) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {
            "account_id": a,
            "as_of": dt.date(2026, 10, 31),
            "customer_id": f"C{a}",
            "score": score,
            "score_change": None,
            "reason_codes": ["RC_EW_PAYMENT_DROP"],
            "model_version": "warning-gbm-test",
            "policy_version": "test",
        }
        for a, score in accounts.items()
    ]
    with engine.begin() as conn:
        insert_scores(conn, rows)


def _interventions(engine) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT account_id, rule, as_of FROM warning_interventions")).all()
    return {(r[0], r[1], str(r[2])[:10]) for r in rows}


def test_an_unpaid_minimum_two_days_before_the_due_date_brings_an_offer_once(
    broker: Broker, tmp_path: Path
) -> None:
    engine = make_store(f"sqlite:///{tmp_path / 's.db'}", ["A1", "A2", "A3"])
    _scores(engine, {"A1": 0.45, "A2": 0.45, "A3": 0.10})
    lines = []
    for account in ("A1", "A2", "A3"):
        lines.append(line("statement_issued", 1, account=account, event_id=f"{account}-1"))
    # A2 pays its minimum before the due date; A1 and A3 spend and do not pay
    lines.append(line("purchase", 2, account="A1", event_id="A1-2", at=NEAR_DUE))
    lines.append(
        line("payment", 2, account="A2", event_id="A2-2", at=NEAR_DUE, amount_minor=20_000)
    )
    lines.append(line("purchase", 2, account="A3", event_id="A3-2", at=NEAR_DUE))
    publish(broker, lines)
    counts = consume_all(engine, broker)
    assert (counts.applied, counts.dead) == (6, 0)
    issued, near = START.date().isoformat(), NEAR_DUE.date().isoformat()
    assert _interventions(engine) == {
        ("A1", "high_score", issued),  # the statement's day: a high score
        ("A1", "unpaid_near_due", near),  # minimum unpaid two days before the due date
        ("A2", "high_score", issued),  # paid in time: the warning only
    }  # A3: a low score, nothing
    assert counts.triggers_fired == 3
    with engine.connect() as conn:
        queued = conn.execute(text("SELECT COUNT(*) FROM notify_outbox")).scalar_one()
        ref = conn.execute(
            text("SELECT decision_ref FROM warning_interventions WHERE rule = 'unpaid_near_due'")
        ).scalar_one()
    assert queued == 3  # in-app: these customers have no phone on file
    assert ref == f"warning:unpaid_near_due:{START.date():%Y%m%d}:A1"
    again = Broker(broker.url, broker.stream, broker.prefix, durable=broker.durable + "x")
    assert consume_all(engine, again).triggers_fired == 0
    assert len(_interventions(engine)) == 3
    engine.dispose()
