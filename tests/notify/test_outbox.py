"""The transactional outbox: a notice commits with its decision, once, without contact data."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select, text

from cardpilot.notify import enqueue_notice, enqueue_notices
from cardpilot.notify.dispatch import Dispatcher, outbox_status
from cardpilot.notify.policy import Retry, default_policy
from cardpilot.privacy import FieldCipher
from cardpilot.store.db import make_engine, unit_of_work, upgrade
from cardpilot.store.models import Base, LimitChange
from cardpilot.store.notify_models import DeliveryAttempt, OutboxMessage

from .conftest import DAYTIME, add_customers, email_of, notice_for, phone_of
from .peers.run import free_port


def test_migration_builds_the_notify_tables_exactly_as_modelled(store_url: str) -> None:
    upgrade(store_url)
    engine = make_engine(store_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        notify_tables = {"notify_outbox", "notify_deliveries", "customer_contact_prefs"}
        assert [d for d in diff if any(t in repr(d) for t in notify_tables)] == []
    finally:
        engine.dispose()


def test_a_notice_commits_with_its_decision_or_not_at_all(
    store: Engine, cipher: FieldCipher
) -> None:
    add_customers(store, cipher, 2)

    def review_that_fails_after_deciding() -> None:
        with unit_of_work(store) as session:
            session.add(
                LimitChange(
                    account_id="A00000000",
                    effective_at=DAYTIME,
                    new_limit_minor=1_500_000,
                    source="review",
                )
            )
            enqueue_notice(session, notice_for(0), now=DAYTIME)
            raise RuntimeError("the review failed after deciding")

    with pytest.raises(RuntimeError):
        review_that_fails_after_deciding()
    with store.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert conn.scalar(select(func.count()).select_from(LimitChange)) == 0
    with unit_of_work(store) as session:
        session.add(
            LimitChange(
                account_id="A00000000",
                effective_at=DAYTIME,
                new_limit_minor=1_500_000,
                source="review",
            )
        )
        keys = enqueue_notice(session, notice_for(0), now=DAYTIME)
    assert len(keys) == 3  # sms, app, e-mail by default
    with store.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(OutboxMessage)) == 3


def test_queueing_the_same_decision_twice_adds_nothing(store: Engine, cipher: FieldCipher) -> None:
    add_customers(store, cipher, 3)
    for _ in range(2):
        with unit_of_work(store) as session:
            enqueue_notices(session, [notice_for(i) for i in range(3)], now=DAYTIME)
    assert outbox_status(store)["totals"] == {"queued": 9}


def test_a_channel_with_no_address_on_file_is_not_queued(
    store: Engine, cipher: FieldCipher
) -> None:
    add_customers(store, cipher, 2)
    with store.begin() as conn:
        conn.execute(text("UPDATE customers SET email_enc = NULL WHERE customer_id = 'C0000'"))
        conn.execute(text("UPDATE customers SET phone_enc = NULL WHERE customer_id = 'C0001'"))
    with unit_of_work(store) as session:
        enqueue_notices(session, [notice_for(i) for i in range(2)], now=DAYTIME)
    with store.connect() as conn:
        queued = set(conn.execute(select(OutboxMessage.customer_id, OutboxMessage.channel)))
    assert queued == {("C0000", "sms"), ("C0000", "app"), ("C0001", "email"), ("C0001", "app")}


def test_outbox_rows_hold_no_plaintext_contact_data(store: Engine, cipher: FieldCipher) -> None:
    add_customers(store, cipher, 3)
    with unit_of_work(store) as session:
        enqueue_notices(session, [notice_for(i) for i in range(3)], now=DAYTIME)
    with store.connect() as conn:
        dump = " ".join(
            " ".join(str(v) for v in row)
            for row in conn.execute(text("SELECT * FROM notify_outbox"))
        )
    for i in range(3):
        assert phone_of(i) not in dump
        assert email_of(i) not in dump


def test_a_failing_message_backs_off_then_goes_dead_with_its_last_error(
    store: Engine, cipher: FieldCipher
) -> None:
    from cardpilot.notify.channels.smtp import SmtpChannel

    add_customers(store, cipher, 1)
    with unit_of_work(store) as session:
        enqueue_notice(session, notice_for(0), channels=("email",), now=DAYTIME)
    policy = default_policy().model_copy(
        update={"retry": Retry(max_attempts=3, backoff_seconds=10, backoff_cap_seconds=3600)}
    )
    clock = {"now": DAYTIME}
    closed = SmtpChannel.from_url(f"smtp://127.0.0.1:{free_port()}?timeout=2")
    dispatcher = Dispatcher(
        store, {"email": closed}, cipher, policy=policy, clock=lambda: clock["now"]
    )
    waits = []
    for _ in range(3):
        assert dispatcher.run_once().claimed == 1
        assert dispatcher.run_once().claimed == 0  # not due again before its backoff
        with store.connect() as conn:
            _state, nxt = conn.execute(
                select(OutboxMessage.state, OutboxMessage.next_attempt_at)
            ).one()
        waits.append((nxt.replace(tzinfo=dt.UTC) - clock["now"]).total_seconds())
        clock["now"] = nxt.replace(tzinfo=dt.UTC)
    assert waits[:2] == [10.0, 20.0]
    with store.connect() as conn:
        row = conn.execute(
            select(OutboxMessage.state, OutboxMessage.attempts, OutboxMessage.last_error)
        ).one()
        outcomes = conn.scalars(select(DeliveryAttempt.outcome).order_by(DeliveryAttempt.id)).all()
    assert row.state == "dead"
    assert row.attempts == 3
    assert "SMTP" in row.last_error
    assert outcomes == ["retry", "retry", "dead"]
    dispatcher.close()
