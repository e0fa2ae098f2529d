"""和谐还款 plans in the account ledger: what an offer and the fold of a customer's plan events
post (``overdue.plan_postings`` builds them; ``store.ledger`` appends them, idempotently).

* An offer posts the penalty fees of the treatment it rests on and that treatment's waiver
  (once per treatment, whichever plan comes first), and its instalments due.
* A plan whose waiver was granted (its first payment) posts the waiver, capped per fee at what
  is left unwaived; a broken plan posts the reinstatement of what it waived.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from sqlalchemy import Connection, Row

from cardpilot.domain.fees import waived_amount
from cardpilot.domain.harmony import HarmonyLedger, HarmonyStatus
from cardpilot.ledger.postings import postings_frame
from cardpilot.overdue.plan_postings import (
    day_start,
    instalment_postings,
    plan_reinstatement_postings,
    plan_waiver_postings,
    treatment_fee_postings,
)
from cardpilot.store.ledger import account_postings, insert_postings
from cardpilot.store.repayment_plans import as_date


def post_offer(
    conn: Connection,
    treatment: Row[Any],
    account_id: str,
    plan_id: str,
    instalments: Sequence[tuple[dt.date, int]],
    currency: str,
    zone: str,
) -> int:
    """The treatment's fees and waiver and the plan's instalments; returns postings added."""
    at = day_start(as_date(treatment.as_of), zone)
    fees = treatment_fee_postings(
        account_id,
        int(treatment.id),
        at,
        currency,
        (int(treatment.penalty_interest_minor or 0), int(treatment.late_fee_minor or 0)),
        int(treatment.fee_waived_minor or 0),
    )
    return insert_postings(
        conn, [*fees, *instalment_postings(account_id, plan_id, instalments, zone, currency)]
    )


def post_plan_money(
    conn: Connection, ledger: HarmonyLedger, rows: Mapping[str, Row[Any]], zone: str
) -> int:
    """The waivers granted and reinstated by the customer's plans; returns postings added."""
    added = 0
    for plan in ledger.plans.values():
        row = rows.get(plan.plan_id)
        if row is None or row.treatment_id is None or plan.waiver_on is None:
            continue
        granted = waived_amount(plan.penalty_fees_minor, plan.waiver_share_bp)
        postings = account_postings(conn, row.account_id)
        new = plan_waiver_postings(
            postings, plan.plan_id, int(row.treatment_id), granted, day_start(plan.waiver_on, zone)
        )
        if plan.status is HarmonyStatus.BROKEN:
            broke = [t.on for t in ledger.transitions if t.plan_id == plan.plan_id][-1]
            seen = pl.concat([postings, postings_frame(new)]) if new else postings
            new += plan_reinstatement_postings(seen, plan.plan_id, day_start(broke, zone))
        added += insert_postings(conn, new)
    return added
