"""A test-only scorer whose PD is fixed per account, so each account's segment or warning rule
is known in advance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import polars as pl


class FixedPdScorer:
    """Scores only the accounts it is given: the PD of ``pds`` (``default`` for an account not
    in it), a fixed score of 600 and ``reason_codes`` on every row."""

    def __init__(
        self,
        pds: Mapping[str, float | None],
        *,
        version: str,
        reason_codes: Sequence[str],
        default: float | None = None,
    ) -> None:
        self.pds = dict(pds)
        self.model_version = self.version = version
        self.reason_codes = list(reason_codes)
        self.default = default

    def predict_pd(self, features: pl.DataFrame) -> npt.NDArray[np.float64]:
        ids = features["account_id"].to_list()
        return np.array([self.pds.get(i, self.default) for i in ids], dtype=np.float64)

    def score(self, features: pl.DataFrame) -> pl.DataFrame:
        ids = features["account_id"].to_list()
        return pl.DataFrame(
            {
                "account_id": ids,
                "score": [600] * len(ids),
                "pd": [self.pds.get(i, self.default) for i in ids],
                "reason_codes": [self.reason_codes] * len(ids),
                "model_version": [self.model_version] * len(ids),
            },
            schema={
                "account_id": pl.String(),
                "score": pl.Int32(),
                "pd": pl.Float64(),
                "reason_codes": pl.List(pl.String()),
                "model_version": pl.String(),
            },
        )


OVERDUE_SCORER_VERSION = "fixed-pd-test-1"
WARNING_SCORER_VERSION = "warning-fixed-pd-test"


def overdue_scorer(pds: Mapping[str, float | None]) -> FixedPdScorer:
    """The overdue tests' scorer: an account not in ``pds`` has no PD (it passes no PD rule)."""
    return FixedPdScorer(pds, version=OVERDUE_SCORER_VERSION, reason_codes=("RC_OVERDUE_RECENT",))


def warning_scorer(pds: Mapping[str, float | None]) -> FixedPdScorer:
    """The early-warning tests' scorer: an account not in ``pds`` has a PD of 0.01."""
    return FixedPdScorer(
        pds,
        version=WARNING_SCORER_VERSION,
        reason_codes=("RC_EW_PAYMENT_DROP", "RC_EW_BALANCE_RISING"),
        default=0.01,
    )
