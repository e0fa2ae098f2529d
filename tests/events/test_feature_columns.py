"""The accounts' running features in their columns: written and read back column-wise as the
same states, and the JSON states of a store from before the columns converted on upgrade."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import insert
from sqlalchemy.orm import Session

from cardpilot.events.feature_frames import derived_columns, states_frame
from cardpilot.events.features import AccountFeatures, apply_event
from cardpilot.events.intake import BatchPlan
from cardpilot.store.db import make_engine, upgrade
from cardpilot.store.event_features import read_features
from cardpilot.store.events import account_features, write_batch
from cardpilot.store.models import Account, Customer

from .factories import START, event

TZ = ZoneInfo("Asia/Shanghai")
WINDOW = dt.timedelta(hours=72)


def folded(account: str) -> AccountFeatures:
    state = AccountFeatures(account)
    for e in [
        event("purchase", 1, account=account, at=START - dt.timedelta(days=40)),
        event("statement_issued", 2, account=account),
        event("cash_advance", 3, account=account),
        event("payment", 4, account=account, amount_minor=25_000),
        event("contact_outcome", 5, account=account),
    ]:
        state = apply_event(state, e, TZ, 6, WINDOW)
    return state


def _store(path: Path, revision: str = "head") -> str:
    url = f"sqlite:///{path / 'features.db'}"
    upgrade(url, revision)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.execute(insert(Customer), [{"customer_id": "C1"}])
        session.execute(
            insert(Account),
            [
                {"account_id": a, "customer_id": "C1", "credit_limit_minor": 1_000_000}
                for a in ("A1", "A2")
            ],
        )
    engine.dispose()
    return url


def test_states_written_column_wise_read_back_the_same(tmp_path: Path) -> None:
    url = _store(tmp_path)
    states = {a: folded(a) for a in ("A1", "A2")}
    frame = states_frame(states.values())
    engine = make_engine(url)
    with engine.begin() as conn:
        write_batch(conn, BatchPlan(states=frame), 6)
    with engine.connect() as conn:
        assert account_features(conn) == states
        assert read_features(conn, ["A2"])["account_id"].to_list() == ["A2"]
    engine.dispose()


def test_the_derived_figures_are_those_of_the_state() -> None:
    state = folded("A1")
    got = derived_columns(states_frame([state]), 6).row(0, named=True)
    want = state.derived(6)
    assert got["utilisation_bp"] == want["utilisation_bp"]
    assert got["spend_ratio_bp"] == want["spend_ratio_bp"]
    assert got["payment_days_before_due"] == want["payment_days_before_due"]


def test_json_states_are_converted_to_columns_on_upgrade(tmp_path: Path) -> None:
    url = _store(tmp_path, "0024_exp26_experiments")
    state = folded("A1")
    engine = make_engine(url)
    with engine.begin() as conn:
        assert state.last_occurred_at is not None
        latest = state.last_occurred_at.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's text
        conn.exec_driver_sql(
            "INSERT INTO event_account_features (account_id, last_sequence, last_occurred_at,"
            " events_applied, state) VALUES (?, ?, ?, ?, ?)",
            ("A1", state.last_sequence, latest, state.events_applied, state.to_json()),
        )
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert account_features(conn) == {"A1": state}
        assert isinstance(read_features(conn), pl.DataFrame)
    engine.dispose()
