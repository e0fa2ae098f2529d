"""What a champion/challenger test's report compares, pure: each arm's outcomes after its
decisions, measured per account, and the arms set side by side (``domain.experiment_stats``).

Per account, over the statements dated after its decision in the test ("later cycles"):

- ``overdue_next_cycles``: any later statement overdue (days past due, or the issuer's
  repayment status of a month or more) — among accounts with a later statement;
- ``utilisation``: the mean of balance over limit on the later statements (a negative balance
  counts as 0; statements without a limit are left out);
- ``revolving_balance``: the mean interest-bearing revolving balance, the statement balance the
  payment left unpaid (a revenue proxy, in minor units);
- ``complaints``: a human-review case the customer asked for, among all the arm's accounts;
  ``human_review_cases``: any human-review case;
- ``label:<name>``: a stored outcome label (``performance_labels``, e.g. the UCI data's
  ``default_next_month``), among the accounts holding it;
- ``limit_change``: the decision's own change of limit (minor units), what the arms did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from cardpilot.domain.experiment_stats import (
    Comparison,
    Moments,
    compare_means,
    compare_proportions,
)
from cardpilot.domain.experiments import CHALLENGER, CHAMPION
from cardpilot.domain.figures import money, rate

PROPORTION = "proportion"
MEAN = "mean"


@dataclass(frozen=True)
class Outcome:
    """One compared outcome: its name, whether a proportion or a mean, whether money."""

    metric: str
    kind: str
    money: bool
    comparison: Comparison


def _per_account_proportion(flags: pl.DataFrame, column: str) -> tuple[int, int, int, int]:
    """(k champion, n champion, k challenger, n challenger) of a 0/1 column per account."""
    counts = dict.fromkeys((CHAMPION, CHALLENGER), (0, 0))
    grouped = flags.group_by("arm").agg(pl.col(column).sum().alias("k"), pl.len().alias("n"))
    for arm, k, n in grouped.iter_rows():
        counts[str(arm)] = (int(k or 0), int(n))
    return (*counts[CHAMPION], *counts[CHALLENGER])


def _moments(values: pl.DataFrame, column: str) -> tuple[Moments, Moments]:
    got = {arm: Moments(0, 0.0, 0.0) for arm in (CHAMPION, CHALLENGER)}
    grouped = values.group_by("arm").agg(
        pl.len().alias("n"),
        pl.col(column).cast(pl.Float64).sum().alias("s"),
        (pl.col(column).cast(pl.Float64) ** 2).sum().alias("q"),
    )
    for arm, n, total, squares in grouped.iter_rows():
        got[str(arm)] = Moments(int(n), float(total or 0.0), float(squares or 0.0))
    return got[CHAMPION], got[CHALLENGER]


def _proportion(
    metric: str, flags: pl.DataFrame, column: str, alpha_bp: int, power_bp: int
) -> Outcome:
    k1, n1, k2, n2 = _per_account_proportion(flags, column)
    comparison = compare_proportions(k1, n1, k2, n2, alpha_bp=alpha_bp, power_bp=power_bp)
    return Outcome(metric, PROPORTION, False, comparison)


def _mean(
    metric: str, values: pl.DataFrame, column: str, alpha_bp: int, power_bp: int, *, money: bool
) -> Outcome:
    champion, challenger = _moments(values, column)
    comparison = compare_means(champion, challenger, alpha_bp=alpha_bp, power_bp=power_bp)
    return Outcome(metric, MEAN, money, comparison)


def compare_outcomes(
    decisions: pl.DataFrame,
    later: pl.DataFrame,
    cases: pl.DataFrame,
    labels: pl.DataFrame,
    *,
    alpha_bp: int = 500,
    power_bp: int = 8000,
) -> list[Outcome]:
    """The arms' outcomes compared (see the module). ``decisions``: ``account_id, arm,
    old_limit_minor, new_limit_minor``; ``later``: the later statements with ``arm``;
    ``cases``: ``account_id, arm, requested_by``; ``labels``: ``account_id, arm, label,
    value``."""
    rates = {"alpha_bp": alpha_bp, "power_bp": power_bp}
    accounts = decisions.unique("account_id", keep="last", maintain_order=True)
    per_statement = later.with_columns(
        ((pl.col("days_past_due") > 0) | (pl.col("repayment_status").fill_null(0) >= 1)).alias(
            "overdue"
        ),
        pl.when(pl.col("credit_limit_minor") > 0)
        .then(
            pl.col("statement_balance_minor").clip(lower_bound=0).cast(pl.Float64)
            / pl.col("credit_limit_minor")
        )
        .alias("utilisation"),
        (pl.col("statement_balance_minor") - pl.col("amount_paid_minor"))
        .clip(lower_bound=0)
        .alias("revolving_minor"),
    )
    per_account = per_statement.group_by("account_id", "arm").agg(
        pl.col("overdue").any().cast(pl.Int64),
        pl.col("utilisation").mean(),
        pl.col("revolving_minor").mean(),
    )
    with_cases = accounts.select("account_id", "arm").join(
        cases.group_by("account_id").agg(
            (pl.col("requested_by") == "customer").any().cast(pl.Int64).alias("complaint"),
            pl.lit(1, dtype=pl.Int64).alias("case"),
        ),
        on="account_id",
        how="left",
    )
    with_cases = with_cases.with_columns(pl.col("complaint", "case").fill_null(0))
    changes = accounts.with_columns(
        (pl.col("new_limit_minor") - pl.col("old_limit_minor")).alias("limit_change_minor")
    )
    out = [
        _mean("limit_change", changes, "limit_change_minor", **rates, money=True),
        _proportion("overdue_next_cycles", per_account, "overdue", **rates),
        _mean(
            "utilisation",
            per_account.filter(pl.col("utilisation").is_not_null()),
            "utilisation",
            **rates,
            money=False,
        ),
        _mean("revolving_balance", per_account, "revolving_minor", **rates, money=True),
        _proportion("complaints", with_cases, "complaint", **rates),
        _proportion("human_review_cases", with_cases, "case", **rates),
    ]
    for name in sorted(labels["label"].unique().to_list()) if labels.height else []:
        own = labels.filter(pl.col("label") == name).unique("account_id")
        out.append(_proportion(f"label:{name}", own, "value", **rates))
    return out


def arm_sizes(decisions: pl.DataFrame) -> dict[str, int]:
    """Accounts per arm."""
    sizes = {CHAMPION: 0, CHALLENGER: 0}
    for arm, n in decisions.unique("account_id").group_by("arm").len().iter_rows():
        sizes[str(arm)] = int(n)
    return sizes


def arm_versions(decisions: pl.DataFrame) -> dict[str, list[str]]:
    """The policy versions each arm's decisions record."""
    out: dict[str, list[str]] = {CHAMPION: [], CHALLENGER: []}
    for arm, versions in (
        decisions.group_by("arm").agg(pl.col("policy_version").unique().sort()).iter_rows()
    ):
        out[str(arm)] = list(versions)
    return out


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """One outcome as the report's JSON (the envelope's figures: money as decimal text in major
    units, rates as decimal text of six places), the interval, the minimum detectable effect
    and whether the interval excludes zero."""
    c = outcome.comparison

    def figure(value: float | None) -> str | None:
        if value is None:
            return None
        return money(round(value)) if outcome.money else rate(value)

    def arm(a: Any) -> dict[str, Any]:
        return {
            "accounts": a.n,
            "value": figure(a.value),
            "low": figure(a.low),
            "high": figure(a.high),
        }

    return {
        "metric": outcome.metric,
        "kind": outcome.kind,
        "money": outcome.money,
        CHAMPION: arm(c.champion),
        CHALLENGER: arm(c.challenger),
        "difference": {"value": figure(c.difference), "low": figure(c.low), "high": figure(c.high)},
        "mde": figure(c.mde),
        "significant": c.significant,
    }
