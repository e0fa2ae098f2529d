"""Accounts a treatment run found eligible for 和谐还款 (``overdue_treatments``)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import Engine, text


@dataclass(frozen=True)
class HarmonyCandidate:
    account_id: str
    risk_segment: str | None
    eligible_plans: tuple[str, ...]  # plan kinds, as the treatment listed them
    pd: float | None
    currency: str


def harmony_candidates(db: Engine, as_of: dt.date) -> list[HarmonyCandidate]:
    """The accounts treated on ``as_of`` as eligible for a plan, in account order."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT t.account_id, t.risk_segment, t.eligible_plans, t.pd, a.currency"
                " FROM overdue_treatments t JOIN accounts a ON a.account_id = t.account_id"
                " WHERE t.as_of = :d AND t.harmony_eligible ORDER BY t.account_id"
            ),
            {"d": as_of},
        ).all()
    return [
        HarmonyCandidate(
            account_id=str(account_id),
            risk_segment=segment,
            eligible_plans=tuple(json.loads(eligible)),
            pd=None if pd is None else float(pd),
            currency=str(currency),
        )
        for account_id, segment, eligible, pd, currency in rows
    ]
