"""A small hand-made store for the treatment and plan tests (SQLite and PostgreSQL), and the
PD each account is scored with (so each account's segment is known)."""

from __future__ import annotations

import datetime as dt

import pytest

from cardpilot.store.db import open_store, unit_of_work
from cardpilot.store.models import Account, Customer, Statement
from support.scorers import FixedPdScorer, overdue_scorer

CYCLES = (dt.date(2005, 7, 31), dt.date(2005, 8, 31), dt.date(2005, 9, 30))
AS_OF = dt.date(2005, 9, 30)
LIMIT = 2_000_000  # 20,000.00 yuan
BALANCE = 500_000  # 5,000.00 yuan

# account → (days past due per cycle, PD, status); the segment each should land in:
ACCOUNTS: dict[str, tuple[tuple[int, int, int], float | None, str]] = {
    "a-low": ((0, 0, 30), 0.03, "active"),  # just overdue, low PD → low_risk
    "b-deep": ((60, 90, 120), 0.20, "active"),  # > 90 days → high_risk
    "c-medium": ((0, 0, 30), 0.20, "active"),  # catch-all → medium_risk
    "d-current": ((0, 0, 0), 0.02, "active"),  # not overdue → not treated
    "e-high-pd": ((0, 0, 30), 0.50, "active"),  # PD ≥ 0.35 → high_risk
    "f-closed": ((0, 30, 60), 0.50, "closed"),  # closed → not treated
    "g-cured": ((30, 0, 30), 0.12, "active"),  # cured before, PD < 0.15 → low_risk
    "h-no-pd": ((0, 0, 30), None, "active"),  # unknown PD never passes a rule → medium
}
EXPECTED_SEGMENT = {
    "a-low": "low_risk",
    "b-deep": "high_risk",
    "c-medium": "medium_risk",
    "e-high-pd": "high_risk",
    "g-cured": "low_risk",
    "h-no-pd": "medium_risk",
}


OVERDUE_PDS = {account: pd for account, (_, pd, _) in ACCOUNTS.items()}


@pytest.fixture
def scorer() -> FixedPdScorer:
    return overdue_scorer(OVERDUE_PDS)


@pytest.fixture
def overdue_store(store_url: str) -> str:
    """``store_url`` holding the accounts of ``ACCOUNTS`` with three monthly cycles."""
    return build_overdue_store(store_url)


def build_overdue_store(store_url: str) -> str:
    engine = open_store(store_url)
    with unit_of_work(engine) as s:
        for acc, (dpds, _pd, status) in ACCOUNTS.items():
            s.add(Customer(customer_id=f"cust-{acc}", locale="zh-CN"))
            s.flush()
            s.add(
                Account(
                    account_id=acc,
                    customer_id=f"cust-{acc}",
                    credit_limit_minor=LIMIT,
                    status=status,
                    currency="CNY",
                )
            )
            s.flush()
            for day, dpd in zip(CYCLES, dpds, strict=True):
                s.add(
                    Statement(
                        account_id=acc,
                        cycle_date=day,
                        due_date=day + dt.timedelta(days=20),
                        credit_limit_minor=LIMIT,
                        statement_balance_minor=BALANCE,
                        minimum_due_minor=50_000,
                        amount_paid_minor=0,
                        days_past_due=dpd,
                    )
                )
    engine.dispose()
    return store_url


@pytest.fixture
def sqlite_overdue_stores(tmp_path):  # type: ignore[no-untyped-def]
    """``build(name)``: another SQLite file store holding ``ACCOUNTS`` (several per test)."""
    return lambda name: build_overdue_store(f"sqlite:///{tmp_path / name}.db")
