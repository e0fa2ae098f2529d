"""What an overdue treatment posts to the account ledger, whole chunks at a time (pure).

A treatment decision charges penalty interest and 违约金, waives its share of them and may
freeze the card or cut its limit. Each becomes a posting on the treatment's day (the start of
``as_of`` in the issuer's time zone), source ``decision``, keyed by the decision's id:

| key | kind |
|---|---|
| ``treat:<id>:penalty_interest`` | ``penalty_interest`` (interest, accrued on principal) |
| ``treat:<id>:late_fee`` | ``late_fee`` (fees) |
| ``treat:<id>:waiver:<fee>`` | ``fee_waiver`` of that fee: the waived share, the interest first |
| ``treat:<id>:freeze`` | ``freeze`` event (the limit kept, the card frozen) |
| ``treat:<id>:limit_change`` | ``limit_change`` event (a cut: old and new limit) |

The keys are the ones a 和谐还款 offer posts for the treatment it rests on
(``overdue.plan_postings``), so whichever comes first posts them and the other adds nothing;
a re-run of the treatment posts nothing twice.
"""

from __future__ import annotations

import polars as pl

from cardpilot.ledger.derive import local_midnight, shaped_postings
from cardpilot.ledger.postings import POSTING_SCHEMA, Component, Kind, Source

# The columns ``treatment_postings`` reads (``store.overdue_treatments.inserted_charges``).
TREATMENT_CHARGES: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "account_id": pl.String(),
    "as_of": pl.Date(),
    "currency": pl.String(),
    "penalty_interest_minor": pl.Int64(),
    "late_fee_minor": pl.Int64(),
    "fee_waived_minor": pl.Int64(),
    "limit_action": pl.String(),
    "old_limit_minor": pl.Int64(),
    "new_limit_minor": pl.Int64(),
}
LIMIT_EVENTS = {"freeze": Kind.FREEZE, "cut": Kind.LIMIT_CHANGE}


def _key(suffix: str) -> pl.Expr:
    return pl.concat_str(pl.lit("treat:"), pl.col("id").cast(pl.String), pl.lit(f":{suffix}"))


def treatment_postings(treatments: pl.DataFrame, zone: str) -> pl.DataFrame:
    """The postings of ``treatments`` (``TREATMENT_CHARGES``), a ``POSTING_SCHEMA`` frame."""
    if treatments.height == 0:
        return pl.DataFrame(schema=POSTING_SCHEMA)
    interest = pl.col("penalty_interest_minor").fill_null(0)
    late = pl.col("late_fee_minor").fill_null(0)
    frame = treatments.with_columns(
        local_midnight(pl.col("as_of"), zone).alias("at"),
        # The waiver covers the interest first, then the 违约金 (as a plan offer posts it).
        pl.min_horizontal(pl.col("fee_waived_minor").fill_null(0), interest).alias("w_int"),
    ).with_columns(
        pl.min_horizontal(pl.col("fee_waived_minor").fill_null(0) - pl.col("w_int"), late)
        .clip(lower_bound=0)
        .alias("w_late")
    )
    common = {
        "account_id": pl.col("account_id"),
        "currency": pl.col("currency"),
        "effective_at": pl.col("at"),
        "effective_on": pl.col("as_of"),
        "source": pl.lit(Source.DECISION.value),
    }
    parts = []
    for kind, component, amount in (
        (Kind.PENALTY_INTEREST, Component.INTEREST, interest),
        (Kind.LATE_FEE, Component.FEES, late),
    ):
        charged = frame.filter(amount > 0)
        parts.append(
            shaped_postings(
                charged,
                kind=pl.lit(kind.value),
                component=pl.lit(component.value),
                amount_minor=amount,
                idempotency_key=_key(kind.value),
                basis=pl.lit(
                    Component.PRINCIPAL.value if kind is Kind.PENALTY_INTEREST else None,
                    dtype=pl.Utf8,
                ),
                **common,
            )
        )
    for kind, component, waived in (
        (Kind.PENALTY_INTEREST, Component.INTEREST, pl.col("w_int")),
        (Kind.LATE_FEE, Component.FEES, pl.col("w_late")),
    ):
        parts.append(
            shaped_postings(
                frame.filter(waived > 0),
                kind=pl.lit(Kind.FEE_WAIVER.value),
                component=pl.lit(component.value),
                amount_minor=-waived,
                idempotency_key=_key(f"waiver:{kind.value}"),
                reference=_key(kind.value),
                **common,
            )
        )
    for action, kind in LIMIT_EVENTS.items():
        detail = pl.struct(
            pl.concat_str(pl.lit("overdue_treatment:"), pl.col("id").cast(pl.String)).alias(
                "decision"
            ),
            pl.col("limit_action"),
            pl.col("old_limit_minor"),
            pl.col("new_limit_minor"),
        ).struct.json_encode()
        parts.append(
            shaped_postings(
                frame.filter(pl.col("limit_action") == action),
                kind=pl.lit(kind.value),
                idempotency_key=_key(kind.value),
                detail=detail,
                **common,
            )
        )
    return pl.concat(parts).sort("account_id", "idempotency_key")
