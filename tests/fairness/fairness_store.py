"""A small hand-built reviewed store whose fairness figures can be worked out by hand.

Review cycle 2026-H1 (as of 2026-05-01), 41 decisions; grades A (score 700), B (600), C (500):

| accounts | sex     | marital | born | action   | grade | defaulted         |
|----------|---------|---------|------|----------|-------|-------------------|
| 6        | female  | married | 1990 | increase | A     | no                |
| 2        | female  | married | 1990 | decrease | C     | yes               |
| 12       | female  | single  | 2000 | keep     | B     | 10 no, 2 yes      |
| 4        | male    | married | 1980 | increase | A     | no                |
| 4        | male    | married | 1980 | decrease | C     | 3 yes, 1 no       |
| 12       | male    | single  | 1960 | keep     | B     | 11 no, 1 yes      |
| 1        | (none)  | (none)  | —    | increase | A     | no label          |

An earlier cycle 2025-H2 decided three of the accounts (all kept).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from cardpilot.store.db import open_store
from cardpilot.store.models import Account, Customer, PerformanceLabel
from cardpilot.store.review_models import LimitDecisionRecord, ReviewRun

AS_OF = dt.date(2026, 5, 1)
CYCLE = "2026-H1"
EARLIER_CYCLE = "2025-H2"
LABEL = "default_next_month"
SCORES = {"A": 700, "B": 600, "C": 500}


@dataclass(frozen=True)
class Block:
    count: int
    sex: str | None
    marital: str | None
    born: int | None
    action: str
    grade: str
    defaults: int | None  # how many of the block defaulted; None: no label


BLOCKS = (
    Block(6, "female", "married", 1990, "increase", "A", 0),
    Block(2, "female", "married", 1990, "decrease", "C", 2),
    Block(12, "female", "single", 2000, "keep", "B", 2),
    Block(4, "male", "married", 1980, "increase", "A", 0),
    Block(4, "male", "married", 1980, "decrease", "C", 3),
    Block(12, "male", "single", 1960, "keep", "B", 1),
    Block(1, None, None, None, "increase", "A", None),
)


def _run(cycle: str, as_of: dt.date) -> ReviewRun:
    at = dt.datetime.combine(as_of, dt.time(9), tzinfo=dt.UTC)
    return ReviewRun(
        cycle_id=cycle,
        as_of=as_of,
        policy_version="test-policy-1",
        model_version="test-model-1",
        engine="local",
        status="finished",
        started_at=at,
        finished_at=at,
    )


def _decision(run: ReviewRun, account_id: str, action: str, grade: str) -> LimitDecisionRecord:
    new_limit = {"increase": 1_200_000, "keep": 1_000_000, "decrease": 500_000}[action]
    return LimitDecisionRecord(
        run_id=run.id,
        cycle_id=run.cycle_id,
        account_id=account_id,
        as_of=run.as_of,
        due_for_review=True,
        grade=grade,
        segment="standard",
        action=action,
        score=SCORES[grade],
        pd={"A": 0.02, "B": 0.1, "C": 0.4}[grade],
        old_limit_minor=1_000_000,
        new_limit_minor=new_limit,
        reason_codes="[]",
        reason_texts_zh="[]",
        reason_texts_en="[]",
        policy_version=run.policy_version,
        model_version=run.model_version,
    )


def build_reviewed_store(url: str, labels: bool = True) -> None:
    """Write the table of the module docstring into the store at ``url``."""
    engine = open_store(url)
    try:
        with Session(engine) as session, session.begin():
            earlier, run = _run(EARLIER_CYCLE, dt.date(2025, 11, 1)), _run(CYCLE, AS_OF)
            session.add_all([earlier, run])
            session.flush()
            n = 0
            for block in BLOCKS:
                for i in range(block.count):
                    n += 1
                    account_id = f"A{n:03d}"
                    session.add(
                        Customer(
                            customer_id=f"C{n:03d}",
                            sex=block.sex,
                            marital_status=block.marital,
                            birth_year=block.born,
                        )
                    )
                    session.flush()
                    session.add(
                        Account(
                            account_id=account_id,
                            customer_id=f"C{n:03d}",
                            credit_limit_minor=1_000_000,
                        )
                    )
                    session.flush()
                    session.add(_decision(run, account_id, block.action, block.grade))
                    if n <= 3:
                        session.add(_decision(earlier, account_id, "keep", "B"))
                    if labels and block.defaults is not None:
                        session.add(
                            PerformanceLabel(
                                account_id=account_id,
                                label=LABEL,
                                observed_on=dt.date(2026, 6, 1),
                                value=i < block.defaults,
                            )
                        )
    finally:
        engine.dispose()
