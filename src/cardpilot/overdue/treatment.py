"""``assign_treatments(table, policy, as_of)``: risk segment and treatment for every overdue
account, as one vectorised Polars plan.

Input (one row per account; docs/overdue.md): ``account_id, pd (null = unknown), bucket,
days_past_due, cures, broken_promises, overdue_balance_minor``; optional
``consecutive_overdue_months, cycles_delinquent`` (conditions may read them) and
``unpaid_minimum_minor`` (the unpaid part of the latest statement's minimum payment; 0 when
absent) and ``penalty_fees_minor`` (interest and fees already charged on the debt, counted
against the policy cap; 0 when absent).
The aging snapshot (``cardpilot.overdue.aging``) joined with scores and the promise history
is such a table. Accounts not past due (``days_past_due == 0``) are left out.

Segments are tried in the policy's order and the first whose rules match wins; the last is the
catch-all. A rule's comparisons never pass on a null (a missing PD is no evidence). Everything
a treatment does comes from the policy; the period's charges are assessed for every account
(``overdue.charges.charge_exprs``: penalty interest for the days past due on the overdue
principal, the late fee on the unpaid minimum, capped; exact integers, the same figures as
``assess_charges``) and the waiver is the segment's share of them, half-up to the fen. The
issue's invariants are re-applied on the output: high-risk accounts never get a fee waiver or
an extension, low-risk accounts never a penalty rate above the standard rate or a limit cut.

Reasons: the matching rules of the chosen segment (or its catch-all reason), then the
treatment's reason, then what it does (freeze, cut, waiver, extension): at most four
(ECOA/Reg B practice, PIPL art. 24; REGULATION.md), with zh-CN and en texts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import polars as pl

from cardpilot.domain.money import BP
from cardpilot.overdue.charges import charge_exprs
from cardpilot.overdue.schema import ACTION_REASONS, OverduePolicy, Segment
from cardpilot.policy.base import percent_to_bp
from cardpilot.policy.conditions import compile_condition

MAX_REASONS = 4
RATE_DTYPE = pl.Decimal(12, 8)

TREATMENT_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "as_of": pl.Date(),
    "bucket": pl.String(),
    "days_past_due": pl.Int32(),
    "risk_segment": pl.String(),
    "risk_level": pl.String(),
    "treatment": pl.String(),
    "penalty_rate_daily": RATE_DTYPE,
    "fee_waived": pl.Boolean(),
    "fee_waiver_share_bp": pl.Int32(),
    "penalty_interest_minor": pl.Int64(),
    "late_fee_minor": pl.Int64(),
    "fee_waived_minor": pl.Int64(),
    "due_date_extension_days": pl.Int32(),
    "limit_action": pl.String(),
    "limit_cut_share_bp": pl.Int32(),
    "first_contact_dpd": pl.Int32(),
    "contacts_per_week": pl.Int32(),
    "contact_tone": pl.String(),
    "eligible_plans": pl.List(pl.String()),
    "harmony_eligible": pl.Boolean(),
    "reason_codes": pl.List(pl.String()),
    "reason_texts_zh": pl.List(pl.String()),
    "reason_texts_en": pl.List(pl.String()),
    "policy_version": pl.String(),
}
_INPUT: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "pd": pl.Float64(),
    "bucket": pl.String(),
    "days_past_due": pl.Int32(),
    "cures": pl.Int32(),
    "broken_promises": pl.Int32(),
    "overdue_balance_minor": pl.Int64(),
}
_OPTIONAL: dict[str, pl.DataType] = {
    "consecutive_overdue_months": pl.Int32(),
    "cycles_delinquent": pl.Int32(),
    "penalty_fees_minor": pl.Int64(),
    "unpaid_minimum_minor": pl.Int64(),
}


class TreatmentInputError(ValueError):
    """The input table cannot be treated: names the column and what to do."""


def _rule_exprs(segment: Segment) -> list[tuple[str, pl.Expr]]:
    return [(rule.reason, compile_condition(rule.when)) for rule in segment.rules]


def _by_segment(segments: list[Segment], value: object, dtype: pl.DataType) -> pl.Expr:
    """A per-segment constant, looked up from the assigned segment code."""
    return pl.col("risk_segment").replace_strict(
        [s.code for s in segments],
        [value if not callable(value) else value(s) for s in segments],
        return_dtype=dtype,
    )


def _prepare(table: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    lf = table.lazy()
    names = set(lf.collect_schema().names())
    missing = [c for c in _INPUT if c not in names]
    if missing:
        raise TreatmentInputError(
            f"treatment input lacks {', '.join(missing)}; give 0 for unknown counts and null "
            "for an unknown pd (docs/overdue.md 'Treatment input')"
        )
    cols = [pl.col(c).cast(t) for c, t in _INPUT.items()]
    for c, t in _OPTIONAL.items():
        cols.append(pl.col(c).cast(t) if c in names else pl.lit(None, t).alias(c))
    return lf.select(cols).with_columns(
        pl.col("penalty_fees_minor").fill_null(0), pl.col("unpaid_minimum_minor").fill_null(0)
    )


RULE_BITS = 12  # at most 12 rules per segment (checked by the schema)


def _segment_actions(segment: Segment) -> list[str]:
    """The action reasons a segment's treatment gives, after the invariant guards."""
    t = segment.treatment
    high, low = segment.risk_level == "high", segment.risk_level == "low"
    limit_action = "freeze" if low and t.limit_action == "cut" else t.limit_action
    out = []
    if limit_action in ("freeze", "cut"):
        out.append(ACTION_REASONS[limit_action])
    if t.fee_waiver_share > 0 and not high:
        out.append(ACTION_REASONS["fee_waiver"])
    if t.due_date_extension_days > 0 and not high:
        out.append(ACTION_REASONS["extension"])
    return out


def reason_table(policy: OverduePolicy) -> pl.DataFrame:
    """Every possible reason list: key = segment index << 12 | mask of matched rules."""
    p = policy.file
    keys: list[int] = []
    lists: list[list[str]] = []
    for i, s in enumerate(p.segments):
        tail = [s.treatment.reason, *_segment_actions(s)]
        for mask in range(1 << len(s.rules)):
            matched = [r.reason for b, r in enumerate(s.rules) if mask >> b & 1]
            head = matched if s.rules else [s.otherwise_reason or ""]
            keys.append((i << RULE_BITS) + mask)
            lists.append([*head, *tail][:MAX_REASONS])
    return pl.DataFrame(
        {
            "__reason_key": keys,
            "reason_codes": lists,
            "reason_texts_zh": [[p.reasons[c].zh_cn for c in codes] for codes in lists],
            "reason_texts_en": [[p.reasons[c].en for c in codes] for codes in lists],
        },
        schema={
            "__reason_key": pl.Int64(),
            "reason_codes": pl.List(pl.String()),
            "reason_texts_zh": pl.List(pl.String()),
            "reason_texts_en": pl.List(pl.String()),
        },
    )


def assign_treatments_lazy(
    table: pl.DataFrame | pl.LazyFrame, policy: OverduePolicy, as_of: dt.date
) -> pl.LazyFrame:
    lf = _prepare(table).filter(pl.col("days_past_due") > 0)
    lf, rule_cols = _with_segment(lf, policy.file.segments)
    lf = _with_guards(_with_segment_terms(lf, policy), policy)
    lf = _with_charges(lf, policy)
    lf = _with_reasons(lf, policy, rule_cols).with_columns(
        pl.lit(as_of).alias("as_of"), pl.lit(policy.version).alias("policy_version")
    )
    return lf.select([pl.col(c).cast(t) for c, t in TREATMENT_SCHEMA.items()])


# (segment, reason, column) of each segment rule's verdict
RuleColumns = list[tuple[str, str, str]]


def _with_segment(lf: pl.LazyFrame, segments: list[Segment]) -> tuple[pl.LazyFrame, RuleColumns]:
    """The risk segment (first match wins), with each rule's verdict kept for the reasons."""
    rule_cols: RuleColumns = []
    exprs: list[pl.Expr] = []
    for s in segments:
        for i, (reason, expr) in enumerate(_rule_exprs(s)):
            name = f"__r_{s.code}_{i}"
            rule_cols.append((s.code, reason, name))
            exprs.append(expr.alias(name))
    lf = lf.with_columns(exprs)
    chain: Any = None
    for s in segments[:-1]:
        hit = pl.any_horizontal([pl.col(n) for code, _, n in rule_cols if code == s.code])
        chain = (pl.when(hit) if chain is None else chain.when(hit)).then(pl.lit(s.code))
    seg_expr = (
        pl.lit(segments[-1].code) if chain is None else chain.otherwise(pl.lit(segments[-1].code))
    )
    return lf.with_columns(seg_expr.alias("risk_segment")), rule_cols


def _with_segment_terms(lf: pl.LazyFrame, policy: OverduePolicy) -> pl.LazyFrame:
    """What the segment's treatment does, per row."""
    segments = policy.file.segments
    harmony = set(policy.file.harmony.segments)

    def of(value: Callable[[Segment], Any], dtype: pl.DataType, name: str) -> pl.Expr:
        return _by_segment(segments, value, dtype).alias(name)

    return lf.with_columns(
        of(lambda s: s.risk_level, pl.String(), "risk_level"),
        of(lambda s: s.treatment.code, pl.String(), "treatment"),
        of(lambda s: s.treatment.penalty_rate_daily, RATE_DTYPE, "penalty_rate_daily"),
        of(
            lambda s: percent_to_bp(s.treatment.fee_waiver_share),
            pl.Int32(),
            "fee_waiver_share_bp",
        ),
        of(lambda s: s.treatment.due_date_extension_days, pl.Int32(), "due_date_extension_days"),
        of(lambda s: s.treatment.limit_action, pl.String(), "limit_action"),
        of(
            lambda s: percent_to_bp(s.treatment.limit_cut_share),
            pl.Int32(),
            "limit_cut_share_bp",
        ),
        of(lambda s: s.treatment.contact.first_contact_dpd, pl.Int32(), "first_contact_dpd"),
        of(lambda s: s.treatment.contact.contacts_per_week, pl.Int32(), "contacts_per_week"),
        of(lambda s: s.treatment.contact.tone, pl.String(), "contact_tone"),
        of(lambda s: list(s.treatment.plans), pl.List(pl.String()), "eligible_plans"),
        of(lambda s: s.code in harmony, pl.Boolean(), "harmony_eligible"),
    )


def _with_guards(lf: pl.LazyFrame, policy: OverduePolicy) -> pl.LazyFrame:
    """The issue's invariants, re-applied on the output whatever the policy says."""
    high = pl.col("risk_level") == "high"
    low = pl.col("risk_level") == "low"
    std = pl.lit(Decimal(policy.file.charges.standard_penalty_rate_daily), RATE_DTYPE)
    return lf.with_columns(
        pl.when(high)
        .then(0)
        .otherwise(pl.col("fee_waiver_share_bp"))
        .cast(pl.Int32)
        .alias("fee_waiver_share_bp"),
        pl.when(high)
        .then(0)
        .otherwise(pl.col("due_date_extension_days"))
        .cast(pl.Int32)
        .alias("due_date_extension_days"),
        pl.when(low & (pl.col("penalty_rate_daily") > std))
        .then(std)
        .otherwise(pl.col("penalty_rate_daily"))
        .alias("penalty_rate_daily"),
        pl.when(low & (pl.col("limit_action") == "cut"))
        .then(pl.lit("freeze"))
        .otherwise(pl.col("limit_action"))
        .alias("limit_action"),
        pl.when(high).then(False).otherwise(pl.col("harmony_eligible")).alias("harmony_eligible"),
    )


def _with_charges(lf: pl.LazyFrame, policy: OverduePolicy) -> pl.LazyFrame:
    """The period's charges (assess_charges, vectorised); the waiver is a share of them."""
    interest, late = charge_exprs(policy, charged_so_far_col="penalty_fees_minor")
    return lf.with_columns(
        interest.alias("penalty_interest_minor"), late.alias("late_fee_minor")
    ).with_columns(
        (pl.col("fee_waiver_share_bp") > 0).alias("fee_waived"),
        # half-up to the fen: (charged × bp + 5000) // 10000, exact in integers
        (
            (
                (pl.col("penalty_interest_minor") + pl.col("late_fee_minor"))
                * pl.col("fee_waiver_share_bp")
                + BP // 2
            )
            // BP
        )
        .cast(pl.Int64)
        .alias("fee_waived_minor"),
        pl.when(pl.col("limit_action") != "cut")
        .then(0)
        .otherwise(pl.col("limit_cut_share_bp"))
        .cast(pl.Int32)
        .alias("limit_cut_share_bp"),
    )


def _with_reasons(lf: pl.LazyFrame, policy: OverduePolicy, rule_cols: RuleColumns) -> pl.LazyFrame:
    """The reason lists. They depend only on the segment and which of its rules matched
    (every action is a per-segment constant), so each row gets an integer key and the lists
    come from a small table joined in: far cheaper than building lists row by row."""
    key: pl.Expr = pl.lit(0, pl.Int64)
    for i, s in enumerate(policy.file.segments):
        mask: pl.Expr = pl.lit(0, pl.Int64)
        for bit, name in enumerate(n for code, _, n in rule_cols if code == s.code):
            mask = mask + pl.col(name).cast(pl.Int64) * (1 << bit)
        key = pl.when(pl.col("risk_segment") == s.code).then(mask + (i << RULE_BITS)).otherwise(key)
    return lf.with_columns(key.alias("__reason_key")).join(
        reason_table(policy).lazy(), on="__reason_key", how="left"
    )


def assign_treatments(
    table: pl.DataFrame | pl.LazyFrame, policy: OverduePolicy, as_of: dt.date
) -> pl.DataFrame:
    """The treatment table (``TREATMENT_SCHEMA``), one row per overdue account, by account."""
    return assign_treatments_lazy(table, policy, as_of).sort("account_id").collect()
