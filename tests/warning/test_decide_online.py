"""The consumer's step (``notify.warning_decisions.decide_online``): one account's state after an
event, decided by the batch's rules in the caller's transaction, stored and queued once however
often the account is seen again in the cycle; the batch then sees the same intervention."""

from __future__ import annotations

import polars as pl
from sqlalchemy import text

from cardpilot.jobs.warning import run_warning
from cardpilot.notify.compose import default_composer
from cardpilot.notify.warning_decisions import decide_online
from cardpilot.notify.warning_notices import AdviceTerms
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.store.db import make_engine
from cardpilot.warning.policy import load_warning_policy
from support.scorers import warning_scorer

from .test_warn_run import AS_OF, BALANCE, DUE, LATEST, MINIMUM, NOW, PDS, build_store

WARNING = load_warning_policy()
TERMS = AdviceTerms.of(WARNING, load_overdue_policy())


def state(score: float) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "account_id": "w2-near-due",
                "customer_id": "c-w2-near-due",
                "currency": "CNY",
                "cycle_date": LATEST,
                "due_date": DUE,
                "days_past_due": 0,
                "score": score,
                "statement_balance_minor": BALANCE,
                "minimum_due_minor": MINIMUM,
                "unpaid_minimum_minor": MINIMUM,
            }
        ]
    )


def step(url: str, score: float) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            decided = decide_online(
                conn,
                state(score),
                warning=WARNING,
                terms=TERMS,
                composer=default_composer(),
                as_of=AS_OF,
                now=NOW,
            )
        return decided.added
    finally:
        engine.dispose()


def count(url: str, table: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def test_an_event_step_stores_and_queues_once_and_the_batch_agrees(store_url: str) -> None:
    build_store(store_url)
    assert step(store_url, 0.10) == set()
    ref = f"warning:unpaid_near_due:{LATEST:%Y%m%d}:w2-near-due"
    assert step(store_url, 0.31) == {ref}
    assert step(store_url, 0.33) == set()  # the same rule on the same statement
    assert (count(store_url, "warning_interventions"), count(store_url, "notify_outbox")) == (1, 1)
    batch = run_warning(
        store_url, as_of=AS_OF, model=warning_scorer(PDS), now=NOW, timezone="Asia/Shanghai"
    )
    assert batch.already_stored == 1  # w2's offer, decided online first
    assert batch.stored == batch.interventions - 1
