"""The ledger postings of a 和谐还款 plan: the penalty fees of the treatment it rests on and that
treatment's waiver, the instalments due, the plan's waiver once it is granted and its
reinstatement when the plan breaks. Pure: the caller stores them (``store.ledger``).

Keys make every posting idempotent: ``treat:<treatment id>:<fee>`` for a fee the treatment
charged, ``treat:<id>:waiver:<fee>`` for the treatment's waiver of it, ``<plan>:due:<n>`` for
an instalment, ``<plan>:waiver:<fee>`` and ``<plan>:reinstated:<fee>`` for the plan's. The
plan's waiver goes through ``ledger.waivers.waive``, which caps it at what is left unwaived of
each fee: whoever waives first, two sources never waive more than was charged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import polars as pl

from cardpilot.ledger.postings import Component, Kind, Posting, Source, postings_frame
from cardpilot.ledger.waivers import waive

FEES = ((Kind.PENALTY_INTEREST, Component.INTEREST), (Kind.LATE_FEE, Component.FEES))


def day_start(day: dt.date, zone: str) -> dt.datetime:
    """The start of ``day`` in the issuer's time zone."""
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(zone))


def fee_key(treatment_id: int, kind: Kind) -> str:
    return f"treat:{treatment_id}:{kind.value}"


def treatment_fee_postings(
    account_id: str,
    treatment_id: int,
    at: dt.datetime,
    currency: str,
    charged: Sequence[int],
    treatment_waived_minor: int,
) -> list[Posting]:
    """The treatment's penalty interest and 违约金 (``charged``, in ``FEES`` order) and its
    waiver of them, the interest first."""
    out: list[Posting] = []
    left = treatment_waived_minor
    for (kind, component), amount in zip(FEES, charged, strict=True):
        if amount <= 0:
            continue
        key = fee_key(treatment_id, kind)
        out.append(
            Posting(account_id, kind, at, Source.DECISION, key, amount, currency, component,
                    basis=Component.PRINCIPAL if kind is Kind.PENALTY_INTEREST else None)
        )  # fmt: skip
        waived, left = min(left, amount), left - min(left, amount)
        if waived > 0:
            out.append(
                Posting(account_id, Kind.FEE_WAIVER, at, Source.DECISION,
                        f"treat:{treatment_id}:waiver:{kind.value}", -waived, currency,
                        component, reference=key)
            )  # fmt: skip
    return out


def instalment_postings(
    account_id: str,
    plan_id: str,
    instalments: Sequence[tuple[dt.date, int]],
    zone: str,
    currency: str,
) -> list[Posting]:
    """One memo per instalment due (the schedule; the money arrives as payments)."""
    return [
        Posting(account_id, Kind.INSTALMENT_DUE, day_start(due, zone), Source.PLAN_EVENT,
                f"{plan_id}:due:{n}", amount, currency, reference=plan_id)
        for n, (due, amount) in enumerate(instalments, start=1)
    ]  # fmt: skip


def plan_waiver_postings(
    postings: pl.DataFrame,
    plan_id: str,
    treatment_id: int,
    waived_minor: int,
    at: dt.datetime,
) -> list[Posting]:
    """The plan's waiver of ``waived_minor`` over the treatment's fees, each capped at what is
    left unwaived of it (``ledger.waivers.waive``); none when already posted."""
    out: list[Posting] = []
    left = waived_minor
    for kind, _ in FEES:
        key = f"{plan_id}:waiver:{kind.value}"
        if left <= 0 or key in set(postings["idempotency_key"]):
            continue
        posting = waive(
            postings, fee_key(treatment_id, kind), left, key=key, effective_at=at,
            source=Source.PLAN_EVENT,
        )  # fmt: skip
        if posting is not None and posting.amount_minor is not None:
            out.append(posting)
            left += posting.amount_minor
            postings = pl.concat([postings, postings_frame([posting])])
    return out


def plan_reinstatement_postings(
    postings: pl.DataFrame, plan_id: str, at: dt.datetime
) -> list[Posting]:
    """A broken plan's waivers charged back, one reinstatement per waiver posting."""
    waivers = postings.filter(
        pl.col("idempotency_key").str.starts_with(f"{plan_id}:waiver:")
        & (pl.col("kind") == Kind.FEE_WAIVER.value)
    )
    keys = set(postings["idempotency_key"])
    return [
        Posting(r["account_id"], Kind.FEE_REINSTATEMENT, at, Source.PLAN_EVENT,
                r["idempotency_key"].replace(":waiver:", ":reinstated:"), -r["amount_minor"],
                r["currency"], Component(r["component"]), reference=r["reference"])
        for r in waivers.iter_rows(named=True)
        if r["idempotency_key"].replace(":waiver:", ":reinstated:") not in keys
    ]  # fmt: skip
