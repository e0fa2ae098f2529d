"""The ledger's invariants, checked over frames of postings (pure, vectorised).

Each check returns the postings that break it as rows ``(account_id, invariant,
idempotency_key, detail)``:

- ``posting_rules``: a posting's sign, component and amount agree with its kind
  (:func:`cardpilot.ledger.postings.posting_problem`);
- ``waived_over_charged``: per fee, what was waived (less what was reinstated) is never more
  than what was charged (less what was reversed), never below zero, and refers to a fee (or
  interest) of the same account;
- ``interest_on_fees``: interest and penalty interest accrue on principal (or, by policy, on
  interest), never on fees: 银发〔2016〕111号 (``ChargeRules.interest_on_fees``);
- ``compounding``: penalty interest accrues on interest only when the policy allows it
  (``ChargeRules.compound_penalty``); card contracts compound ordinary interest monthly, so
  ordinary interest may;
- ``instalment_overpaid``: what a plan instalment shows as paid is never more than was due;
- ``reversal_unmatched``: a reversal refers to a posting of its account and never reverses
  more than it, nor in the same direction;
- ``statement_mismatch``: on each statement's day, the account's balance (the sum of its
  postings) equals the balance the statement states.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from cardpilot.domain.fees import ChargeRules
from cardpilot.ledger.balances import MONEY_KINDS
from cardpilot.ledger.postings import (
    ACCRUING,
    RULES,
    WAIVABLE,
    Component,
    Kind,
    Role,
    kinds_with,
)

INVARIANTS = (
    "posting_rules",
    "waived_over_charged",
    "interest_on_fees",
    "compounding",
    "instalment_overpaid",
    "reversal_unmatched",
    "statement_mismatch",
)
VIOLATION_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Utf8(),
    "invariant": pl.Utf8(),
    "idempotency_key": pl.Utf8(),
    "detail": pl.Utf8(),
}


@dataclass(frozen=True)
class CheckResult:
    accounts: int
    postings: int
    violations: pl.DataFrame  # VIOLATION_SCHEMA

    def counts(self) -> dict[str, int]:
        found = self.violations.group_by("invariant").len()
        counted = dict(zip(found["invariant"], found["len"], strict=True))
        return {name: int(counted.get(name, 0)) for name in INVARIANTS}


def _violations(frame: pl.DataFrame, invariant: str, detail: pl.Expr) -> pl.DataFrame:
    return frame.select(
        pl.col("account_id"),
        pl.lit(invariant).alias("invariant"),
        pl.col("idempotency_key"),
        detail.cast(pl.Utf8).alias("detail"),
    )


def check_postings(
    postings: pl.DataFrame,
    rules: ChargeRules | None = None,
    statements: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every violation in ``postings`` (frames of ``POSTING_SCHEMA``, whole accounts);
    ``statements`` (``account_id, cycle_date, statement_balance_minor``): the imported
    statements of the same accounts, reconciled besides the ``statement_issued`` memos."""
    rules = rules or ChargeRules()
    found = [
        posting_rules(postings),
        waived_over_charged(postings),
        accrual_basis(postings, rules),
        instalment_overpaid(postings),
        reversal_unmatched(postings),
        statement_mismatch(postings, statements),
    ]
    return pl.concat([f.cast(VIOLATION_SCHEMA) for f in found])  # type: ignore[arg-type]


def check(
    postings: pl.DataFrame,
    rules: ChargeRules | None = None,
    statements: pl.DataFrame | None = None,
) -> CheckResult:
    return CheckResult(
        accounts=postings["account_id"].n_unique(),
        postings=postings.height,
        violations=check_postings(postings, rules, statements),
    )


def posting_rules(postings: pl.DataFrame) -> pl.DataFrame:
    amount, component, kind = pl.col("amount_minor"), pl.col("component"), pl.col("kind")
    events = kinds_with(Role.EVENT)
    fixed = {k.value: r.component.value for k, r in RULES.items() if r.component is not None}
    problem = (
        pl.when(~kind.is_in([k.value for k in Kind]))
        .then(pl.lit("unknown kind"))
        .when(kind.is_in(events) & amount.is_not_null())
        .then(pl.lit("an event carries no amount"))
        .when(~kind.is_in(events) & amount.is_null())
        .then(pl.lit("needs an amount"))
        .when(kind.is_in(MONEY_KINDS) & ~component.is_in([c.value for c in Component]))
        .then(pl.lit("needs a component"))
        .when(kind.is_in(list(fixed)) & (component != kind.replace_strict(fixed, default=None)))
        .then(pl.lit("wrong component for its kind"))
        .when(kind.is_in(kinds_with(Role.CHARGE)) & (amount <= 0))
        .then(pl.lit("a charge must be positive"))
        .when(kind.is_in(kinds_with(Role.CREDIT)) & (amount >= 0))
        .then(pl.lit("a credit must be negative"))
        .otherwise(None)
    )
    flagged = postings.with_columns(problem.alias("_problem")).filter(
        pl.col("_problem").is_not_null()
    )
    return _violations(flagged, "posting_rules", pl.col("_problem"))


def _referred(postings: pl.DataFrame, kinds: list[str]) -> pl.DataFrame:
    """Postings of ``kinds`` summed per (account, reference)."""
    return (
        postings.filter(pl.col("kind").is_in(kinds) & pl.col("reference").is_not_null())
        .group_by("account_id", "reference")
        .agg(
            pl.col("amount_minor").sum().alias("sum"),
            pl.col("idempotency_key").max().alias("last_key"),
        )
    )


def _targets(postings: pl.DataFrame, kinds: list[str] | None = None) -> pl.DataFrame:
    chosen = postings if kinds is None else postings.filter(pl.col("kind").is_in(kinds))
    return chosen.select(
        "account_id",
        pl.col("idempotency_key").alias("reference"),
        pl.col("amount_minor").alias("target_amount"),
    )


def waived_over_charged(postings: pl.DataFrame) -> pl.DataFrame:
    waivers = _referred(postings, [Kind.FEE_WAIVER.value, Kind.FEE_REINSTATEMENT.value])
    if waivers.height == 0:
        return pl.DataFrame(schema=VIOLATION_SCHEMA)
    reversed_ = _referred(postings, [Kind.REVERSAL.value]).select(
        "account_id", "reference", pl.col("sum").alias("reversed")
    )
    fees = _targets(postings, [k.value for k in WAIVABLE])
    joined = (
        waivers.join(fees, on=["account_id", "reference"], how="left")
        .join(reversed_, on=["account_id", "reference"], how="left")
        .with_columns(
            (-pl.col("sum")).alias("waived"),
            (pl.col("target_amount") + pl.col("reversed").fill_null(0)).alias("charged"),
        )
    )
    bad = joined.filter(
        pl.col("charged").is_null()
        | (pl.col("waived") > pl.col("charged"))
        | (pl.col("waived") < 0)
    )
    detail = (
        pl.when(pl.col("charged").is_null())
        .then(
            pl.concat_str(pl.lit("waives "), pl.col("reference"), pl.lit(", no fee of the account"))
        )
        .otherwise(
            pl.concat_str(
                pl.lit("waived "),
                pl.col("waived"),
                pl.lit(" of "),
                pl.col("charged"),
                pl.lit(" charged by "),
                pl.col("reference"),
            )
        )
    )
    return _violations(bad.rename({"last_key": "idempotency_key"}), "waived_over_charged", detail)


def accrual_basis(postings: pl.DataFrame, rules: ChargeRules) -> pl.DataFrame:
    accruing = postings.filter(pl.col("kind").is_in([k.value for k in ACCRUING]))
    on_fees = accruing.filter(pl.col("basis") == Component.FEES.value)
    compounded = accruing.filter(
        (pl.col("basis") == Component.INTEREST.value)
        & (pl.col("kind") == Kind.PENALTY_INTEREST.value)
    )
    found = []
    if not rules.interest_on_fees:
        found.append(_violations(on_fees, "interest_on_fees", pl.lit("accrued on fees")))
    if not rules.compound_penalty:
        found.append(_violations(compounded, "compounding", pl.lit("penalty interest on interest")))
    if not found:
        return pl.DataFrame(schema=VIOLATION_SCHEMA)
    return pl.concat(found)


def _sum_of_target(verb: str, missing: str, link: str) -> pl.Expr:
    """``<verb><sum> of <target amount><link><reference>``, the target's absence named."""
    return pl.concat_str(
        pl.lit(verb),
        pl.col("sum"),
        pl.lit(" of "),
        pl.col("target_amount").cast(pl.Utf8).fill_null(missing),
        pl.lit(link),
        pl.col("reference"),
    )


def instalment_overpaid(postings: pl.DataFrame) -> pl.DataFrame:
    paid = _referred(postings, [Kind.INSTALMENT_PAID.value])
    due = _targets(postings, [Kind.INSTALMENT_DUE.value])
    bad = paid.join(due, on=["account_id", "reference"], how="left").filter(
        pl.col("target_amount").is_null() | (pl.col("sum") > pl.col("target_amount"))
    )
    detail = _sum_of_target("paid ", "no instalment", " due by ")
    return _violations(bad.rename({"last_key": "idempotency_key"}), "instalment_overpaid", detail)


def reversal_unmatched(postings: pl.DataFrame) -> pl.DataFrame:
    reversals = postings.filter(pl.col("kind") == Kind.REVERSAL.value)
    if reversals.height == 0:
        return pl.DataFrame(schema=VIOLATION_SCHEMA)
    summed = _referred(postings, [Kind.REVERSAL.value])
    unreferenced = reversals.filter(pl.col("reference").is_null())
    joined = summed.join(_targets(postings), on=["account_id", "reference"], how="left")
    bad = joined.filter(
        pl.col("target_amount").is_null()
        | (pl.col("sum").sign() == pl.col("target_amount").sign())
        | (pl.col("sum").abs() > pl.col("target_amount").abs())
    )
    detail = _sum_of_target("reverses ", "no posting", " ")
    return pl.concat(
        [
            _violations(bad.rename({"last_key": "idempotency_key"}), "reversal_unmatched", detail),
            _violations(unreferenced, "reversal_unmatched", pl.lit("refers to no posting")),
        ]
    )


def stated_balances(postings: pl.DataFrame, statements: pl.DataFrame | None = None) -> pl.DataFrame:
    """Each balance a statement states once (``account_id, effective_on, amount_minor,
    idempotency_key``): the ``statement_issued`` memos and the imported ``statements``."""
    memos = postings.filter(pl.col("kind") == Kind.STATEMENT_ISSUED.value).select(
        "account_id", "effective_on", "amount_minor", "idempotency_key"
    )
    if statements is None or statements.height == 0:
        return memos
    stated = statements.select(
        pl.col("account_id"),
        pl.col("cycle_date").alias("effective_on"),
        pl.col("statement_balance_minor").alias("amount_minor"),
        pl.concat_str(
            pl.lit("statement:"), pl.col("account_id"), pl.lit(":"), pl.col("cycle_date")
        ).alias("idempotency_key"),
    )
    return pl.concat([memos, stated]).unique(
        ["account_id", "effective_on", "amount_minor"], keep="first", maintain_order=True
    )


def statement_mismatch(
    postings: pl.DataFrame, statements: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Each statement's stated balance against the sum of the account's postings to its day."""
    stated = stated_balances(postings, statements)
    if stated.height == 0:
        return pl.DataFrame(schema=VIOLATION_SCHEMA)
    daily = (
        postings.filter(pl.col("kind").is_in(MONEY_KINDS))
        .group_by("account_id", "effective_on")
        .agg(pl.col("amount_minor").sum())
        .sort("account_id", "effective_on")
        .with_columns(pl.col("amount_minor").cum_sum().over("account_id").alias("balance"))
        .select("account_id", "effective_on", "balance")
    )
    joined = stated.sort("account_id", "effective_on").join_asof(
        daily, on="effective_on", by="account_id", strategy="backward", check_sortedness=False
    )
    bad = joined.with_columns(pl.col("balance").fill_null(0)).filter(
        pl.col("balance") != pl.col("amount_minor")
    )
    detail = pl.concat_str(
        pl.lit("statement states "),
        pl.col("amount_minor"),
        pl.lit(", postings sum to "),
        pl.col("balance"),
    )
    return _violations(bad, "statement_mismatch", detail)
