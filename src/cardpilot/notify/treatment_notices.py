"""Notices of overdue treatments, and their queueing in the treatment's own transaction.

A treatment's notice is a decision notice (``notices_from_rows``, reference
``overdue_treatment:<id>``) of message type ``overdue_treatment``, with the facts its templates
show: the segment's label, the limit action, the charges and the waiver (share and amount), the
extension, the penalty rate and the days past due.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from cardpilot.notify.compose import Composer
from cardpilot.notify.decision_notices import notices_from_rows
from cardpilot.notify.notice import LimitChangeNotice
from cardpilot.notify.outbox import enqueue_notices
from cardpilot.overdue.schema import OverduePolicy

TREATMENT_MESSAGE_TYPE = "overdue_treatment"


def _percent_text(rate: Decimal) -> str:
    """A daily rate as a percentage with at most four decimals, no trailing zeros."""
    return f"{rate * 100:.4f}".rstrip("0").rstrip(".")


def treatment_notices(rows: pl.DataFrame, policy: OverduePolicy) -> list[LimitChangeNotice]:
    """One notice per stored treatment row (``store.overdue_treatments.inserted_treatments``)."""
    labels = {s.code: s.labels for s in policy.file.segments}

    def facts(row: Mapping[str, Any]) -> dict[str, Any]:
        segment = row["risk_segment"]
        label = labels.get(segment)
        return {
            "risk_segment": segment,
            "segment_label_zh": label.zh_cn if label else segment,
            "segment_label_en": label.en if label else segment,
            "limit_action": row["limit_action"],
            "fee_waiver_pct": f"{int(row['fee_waiver_share_bp']) / 100:g}",
            # This period's charges and the part waived when the customer repays on time,
            # in minor units (templates format them with ``money``): penalty interest (罚息)
            # and the late-payment fee (违约金) are different charges (REGULATION.md).
            "penalty_interest_minor": int(row["penalty_interest_minor"] or 0),
            "late_fee_minor": int(row["late_fee_minor"] or 0),
            "fee_waived_minor": int(row["fee_waived_minor"] or 0),
            "extension_days": int(row["due_date_extension_days"]),
            "penalty_rate_pct": _percent_text(Decimal(row["penalty_rate_daily"])),
            "days_past_due": int(row["days_past_due"]),
            "tone": row["contact_tone"],
        }

    return notices_from_rows(
        rows,
        decision_kind="overdue_treatment",
        message_type=TREATMENT_MESSAGE_TYPE,
        default_currency=policy.file.currency,
        extra=facts,
    )


def enqueue_on(conn: Connection, notices: list[LimitChangeNotice], composer: Composer) -> int:
    """Queue ``notices`` in ``conn``'s transaction; returns the outbox rows queued."""
    if not notices:
        return 0
    session = Session(bind=conn)
    try:
        queued = len(enqueue_notices(session, notices, composer=composer))
        session.flush()
    finally:
        session.close()
    return queued
