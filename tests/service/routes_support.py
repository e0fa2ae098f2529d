"""What the tests of the plan, warning and events routes share: the events broker of a test
(streams of its own on the loopback NATS server, deleted afterwards), the seeded store's
overdue accounts treated so that 和谐还款 may be offered, and an early-warning run over it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import uuid

import polars as pl
from sqlalchemy import Engine, text

from cardpilot.stream.broker import Broker, connect

TREATED_ON = dt.date(2026, 11, 1)  # the day after the seeded store's last cycle


def isolated_broker() -> Broker:
    """Streams and subjects no other test and no running consumer uses."""
    url = os.environ.get("CARDPILOT_TEST_NATS_URL", "nats://127.0.0.1:4222")
    tag = uuid.uuid4().hex[:10]
    return Broker(url=url, stream=f"TEST_API_{tag}", prefix=f"test.api.{tag}", durable=f"t{tag}")


async def _delete_streams(broker: Broker) -> None:
    nc, js = await connect(broker)
    try:
        for name in (broker.stream, broker.dead_stream):
            with contextlib.suppress(Exception):  # never made, or gone already
                await js.delete_stream(name)
    finally:
        await nc.close()


def delete_streams(broker: Broker) -> None:
    with contextlib.suppress(Exception):  # the broker is down: nothing was made on it
        asyncio.run(_delete_streams(broker))


def treat_overdue_accounts(url: str) -> None:
    """``overdue treat`` on the seeded store (a second call treats nothing twice)."""
    from service_support import MODEL

    from cardpilot.jobs.overdue import treat_overdue
    from cardpilot.scoring.registry import load_model_dir

    treat_overdue(url, load_model_dir(MODEL), as_of=TREATED_ON)


def offerable_accounts(db: Engine) -> list[str]:
    """Accounts whose treatment allows an equal-principal 和谐还款 plan, one per customer."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT t.account_id, a.customer_id FROM overdue_treatments t"
                " JOIN accounts a ON a.account_id = t.account_id"
                " WHERE t.harmony_eligible AND t.eligible_plans LIKE '%equal_principal%'"
                " ORDER BY t.account_id"
            )
        ).all()
    seen: set[str] = set()
    out = []
    for account, customer in rows:
        if customer not in seen:
            seen.add(customer)
            out.append(str(account))
    return out


class RankedPdScorer:
    """An early-warning model stand-in whose PD falls with the account's position in the
    chunk (test only: which account ranks where is then known)."""

    version = "warning-ranked-pd-test"

    def predict_pd(self, features: pl.DataFrame) -> list[float]:
        rows = features.height
        return [0.9 - 0.8 * i / max(rows, 1) for i in range(rows)]

    def score(self, features: pl.DataFrame) -> pl.DataFrame:
        ids = features["account_id"].to_list()
        return pl.DataFrame(
            {
                "account_id": ids,
                "score": [600] * len(ids),
                "pd": self.predict_pd(features),
                "reason_codes": [["RC_EW_PAYMENT_DROP"]] * len(ids),
                "model_version": [self.version] * len(ids),
            },
            schema={
                "account_id": pl.String(),
                "score": pl.Int32(),
                "pd": pl.Float64(),
                "reason_codes": pl.List(pl.String()),
                "model_version": pl.String(),
            },
        )


def run_early_warning(url: str) -> dt.date:
    """``warn run`` over the seeded store on ``TREATED_ON``."""
    from cardpilot.jobs.warning import run_warning

    run_warning(url, as_of=TREATED_ON, model=RankedPdScorer())
    return TREATED_ON


OFFER_ON = TREATED_ON + dt.timedelta(days=1)
ANSWER_ON = OFFER_ON + dt.timedelta(days=1)


def offered_plans(url: str, db: Engine, n: int) -> list[str]:
    """``n`` plans offered on ``OFFER_ON`` (``plan offer``), each to another customer; the
    store is treated first. Offering again returns the same plans."""
    from cardpilot.jobs.plans import PlanStoreError, offer_plan
    from cardpilot.overdue.loading import load_overdue_policy

    treat_overdue_accounts(url)
    policy = load_overdue_policy()
    out: list[str] = []
    for account in offerable_accounts(db):
        try:
            out.append(offer_plan(db, account, policy, on=OFFER_ON, months=6).plan_id)
        except PlanStoreError:  # a balance under the plan's minimum
            continue
        if len(out) == n:
            return out
    raise AssertionError(f"the seeded store has fewer than {n} accounts a plan may be offered to")
