"""The portfolio a clustering reads: behaviour features, outcome labels, currency, policy.

Built from portfolio frames (the store's or a UCI file's, read by ``cardpilot.jobs.segments``);
the features are the review's own (``cardpilot.scoring.features.behaviour_features``), so a
cluster describes the same numbers a decision reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import polars as pl

from cardpilot.policy.catalogue import currency_hint
from cardpilot.policy.loading import default_policy_path, load_policy
from cardpilot.policy.schema import Policy
from cardpilot.scoring.features import PortfolioLike, behaviour_features

DEFAULT_LABEL = "default_next_month"


class SegmentSourceError(ValueError):
    """A portfolio or policy the clustering cannot use: says what and what to do."""


class PortfolioWithLabels(PortfolioLike, Protocol):
    @property
    def labels(self) -> pl.DataFrame: ...


@dataclass(frozen=True)
class SegmentInput:
    features: pl.DataFrame  # one row per account, FEATURE_NAMES
    labels: pl.DataFrame  # account_id, label (str), value (bool): every outcome label held
    currency: str
    as_of: dt.date
    source: str


def default_as_of(frames: PortfolioLike) -> dt.date:
    """The day after the latest statement cycle (as the review does)."""
    latest = frames.statements.get_column("cycle_date").max()
    if not isinstance(latest, dt.date):
        raise SegmentSourceError("the portfolio has no statements; import one first")
    return latest + dt.timedelta(days=1)


def portfolio_currency(accounts: pl.DataFrame) -> str:
    currencies = sorted(c for c in accounts.get_column("currency").unique().to_list() if c)
    if len(currencies) != 1:
        raise SegmentSourceError(
            f"the accounts are in {currencies or 'no currency'}; spending can only be "
            "clustered in one currency: cluster each currency's accounts separately"
        )
    return str(currencies[0])


def input_from_frames(
    frames: PortfolioWithLabels, as_of: dt.date | None, source: str
) -> SegmentInput:
    when = as_of or default_as_of(frames)
    return SegmentInput(
        features=behaviour_features(frames, when),
        labels=frames.labels,
        currency=portfolio_currency(frames.accounts),
        as_of=when,
        source=source,
    )


def outcome(labels: pl.DataFrame, label: str = DEFAULT_LABEL) -> pl.DataFrame | None:
    """``account_id, defaulted`` (0/1) for one label, or None when the portfolio has none."""
    chosen = labels.filter(pl.col("label") == label)
    if chosen.is_empty():
        return None
    return chosen.select("account_id", defaulted=pl.col("value").cast(pl.Int8))


def policy_for(currency: str, folder: Path | None = None) -> Policy:
    """``folder``'s policy, or the shipped policy in ``currency`` (the default one first).

    The policy engine never converts currencies, and its segment rules hold amounts, so a
    policy in another currency would map clusters to the wrong segments: refused.
    """
    if folder is not None:
        policy = load_policy(folder)
        if policy.limits.currency != currency:
            raise SegmentSourceError(
                f"--policy {folder}: amounts in {policy.limits.currency}, accounts in "
                f"{currency}. {currency_hint(currency)}"
            )
        return policy
    default = default_policy_path()
    shipped = [default, *sorted(p for p in default.parent.iterdir() if p != default)]
    for candidate in shipped:
        if (candidate / "limits.yaml").is_file():
            policy = load_policy(candidate)
            if policy.limits.currency == currency:
                return policy
    raise SegmentSourceError(
        f"no shipped policy is in {currency}; pass --policy FOLDER with one in {currency}"
    )
