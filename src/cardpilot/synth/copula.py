"""Draw account histories from the fitted Gaussian copula (see ``cardpilot.synth.fit``).

The fitted vector holds 6 static variables and 3 variables per month for 6 months. Histories
longer than the 6 fitted months are extended backwards one month at a time: the new oldest
month is drawn from its conditional normal distribution given the static variables and the
5 months after it, using the fitted relation between April 2005 and May–September 2005. This
assumes the monthly process is stationary; it keeps the most recent 6 months (which the
default model reads) distributed as in the real data however long the history. Extended months
use the April marginals.

The ``default_next_month`` label is not part of the copula: rank correlations with a binary
variable are heavily attenuated (the copula reproduced an AUC of 0.59 where the real data shows
0.71 for the latest status alone). Instead a logistic model fitted on the real data gives each
generated account its probability of default from its generated history (``default_features``),
with the intercept shifted so the synthetic default rate matches the real one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Marginal:
    name: str
    kind: str  # "continuous" (quantile table) or "discrete" (category probabilities)
    grid: FloatArray  # probabilities of the quantiles, or cumulative probabilities
    values: FloatArray
    labels: dict[int, str]

    def invert(self, u: FloatArray) -> FloatArray:
        """Values at probability levels ``u`` (the inverse CDF)."""
        if self.kind == "continuous":
            # Linear between fitted quantiles, flat beyond the 0.1 % / 99.9 % ends.
            return np.asarray(np.interp(u, self.grid, self.values), dtype=np.float64)
        index = np.searchsorted(self.grid, u, side="right")
        return np.asarray(self.values[np.minimum(index, self.values.shape[0] - 1)])


@dataclass(frozen=True)
class AccountDraw:
    """Per-account values: static ``(n,)`` arrays and monthly ``(n, months)`` arrays."""

    credit_limit_cny: FloatArray
    age: IntArray
    education: IntArray
    sex: IntArray
    marital_status: IntArray
    status: IntArray  # (n, months), oldest first
    utilisation: FloatArray
    payment_rate: FloatArray


def _nearest_correlation(matrix: FloatArray) -> FloatArray:
    """Clip eigenvalues so a rounded matrix is still positive definite."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    fixed = vectors @ np.diag(np.maximum(values, 1e-6)) @ vectors.T
    scale = np.sqrt(np.diag(fixed))
    return np.asarray(fixed / np.outer(scale, scale), dtype=np.float64)


class CopulaModel:
    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.static = int(params["static_variables"])
        self.per_month = int(params["month_variables"])
        self.months = int(params["months"])
        self.marginals = [self._marginal(spec) for spec in params["variables"]]
        self.by_name = {m.name: m for m in self.marginals}
        corr = _nearest_correlation(np.asarray(params["correlation"], dtype=np.float64))
        self.dim = corr.shape[0]
        if self.dim != self.static + self.per_month * self.months:
            raise ValueError("params.json: correlation size does not match the variables")
        self.chol = np.linalg.cholesky(corr)
        # Backward extension: oldest month given static + the next (months - 1) months.
        target = np.arange(self.static, self.static + self.per_month)
        given = np.r_[
            np.arange(self.static),
            np.arange(self.static + self.per_month, self.dim),
        ]
        sigma_gg = corr[np.ix_(given, given)]
        sigma_tg = corr[np.ix_(target, given)]
        self.extend_coef = np.linalg.solve(sigma_gg, sigma_tg.T).T
        residual = corr[np.ix_(target, target)] - self.extend_coef @ sigma_tg.T
        self.extend_chol = np.linalg.cholesky(_nearest_correlation_cov(residual))
        self.pay_in_full = {int(k): float(v) for k, v in params["pay_in_full_next_month"].items()}

    @staticmethod
    def _marginal(spec: dict[str, Any]) -> Marginal:
        labels = {int(k): str(v) for k, v in spec.get("labels", {}).items()}
        if spec["kind"] == "continuous":
            return Marginal(
                spec["name"],
                "continuous",
                np.asarray(spec["probabilities"], dtype=np.float64),
                np.asarray(spec["quantiles"], dtype=np.float64),
                labels,
            )
        probabilities = np.asarray(spec["probabilities"], dtype=np.float64)
        cumulative = np.cumsum(probabilities / probabilities.sum())
        return Marginal(
            spec["name"],
            "discrete",
            cumulative[:-1],
            np.asarray(spec["values"], dtype=np.float64),
            labels,
        )

    def latent(self, rng: np.random.Generator, n: int, months: int) -> FloatArray:
        """Correlated normals ``(n, static + 3 * months)``, months oldest first."""
        z = rng.standard_normal((n, self.dim)) @ self.chol.T
        blocks = [z[:, : self.static]] + [
            z[:, self.static + self.per_month * m : self.static + self.per_month * (m + 1)]
            for m in range(self.months)
        ]
        static, monthly = blocks[0], blocks[1:]
        while len(monthly) < months:
            given = np.hstack([static, *monthly[: self.months - 1]])
            noise = rng.standard_normal((n, self.per_month)) @ self.extend_chol.T
            monthly.insert(0, given @ self.extend_coef.T + noise)
        monthly = monthly[len(monthly) - months :]
        return np.hstack([static, *monthly])

    def draw(self, rng: np.random.Generator, n: int, months: int) -> AccountDraw:
        # SciPy is loaded here, not with the module: the command line imports this module to
        # offer its options, and every command would pay for loading SciPy.
        from scipy.special import ndtr

        z = self.latent(rng, n, months)
        u = ndtr(z)
        statics = [self.marginals[i].invert(u[:, i]) for i in range(self.static)]
        status = np.empty((n, months), dtype=np.int64)
        utilisation = np.empty((n, months), dtype=np.float64)
        payment_rate = np.empty((n, months), dtype=np.float64)
        # Extended months (before the fitted window) reuse the oldest fitted month's marginals.
        offset = self.months - months
        for m in range(months):
            fitted = max(0, m + offset)
            col = self.static + self.per_month * m
            status[:, m] = self.by_name[f"status_m{fitted}"].invert(u[:, col])
            utilisation[:, m] = self.by_name[f"utilisation_m{fitted}"].invert(u[:, col + 1])
            payment_rate[:, m] = self.by_name[f"payment_rate_m{fitted}"].invert(u[:, col + 2])
        return AccountDraw(
            credit_limit_cny=statics[0],
            age=statics[1].astype(np.int64),
            education=statics[2].astype(np.int64),
            sex=statics[3].astype(np.int64),
            marital_status=statics[4].astype(np.int64),
            status=status,
            utilisation=utilisation,
            payment_rate=np.maximum(payment_rate, 0.0),
        )


def _nearest_correlation_cov(matrix: FloatArray) -> FloatArray:
    """A covariance made positive definite by clipping eigenvalues (no rescaling)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return np.asarray(vectors @ np.diag(np.maximum(values, 1e-9)) @ vectors.T, dtype=np.float64)


DEFAULT_FEATURES = (
    "latest_status_-2",
    "latest_status_-1",
    "latest_status_1",
    "latest_status_2",
    "latest_status_3plus",
    "previous_status_1plus",
    "months_overdue_6",
    "max_status_6",
    "log_limit_cny",
    "latest_utilisation",
    "mean_payment_rate_6",
    "age_decades",
)


def default_features(
    status: IntArray,
    utilisation: FloatArray,
    payment_rate: FloatArray,
    limit_cny: FloatArray,
    age: IntArray,
) -> FloatArray:
    """Features of the default model over the last 6 months (arrays oldest month first)."""
    last = status[:, -1]
    window = status[:, -6:]
    columns = [
        last == -2,
        last == -1,
        last == 1,
        last == 2,
        last >= 3,
        status[:, -2] >= 1,
        (window >= 1).sum(axis=1),
        np.clip(window.max(axis=1), 0, 4),
        np.log(np.maximum(limit_cny, 100.0)),
        np.clip(utilisation[:, -1], -0.5, 1.5),
        np.clip(payment_rate[:, -6:].mean(axis=1), 0.0, 1.0),
        age / 10.0,
    ]
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])


def default_probability(params: dict[str, Any], features: FloatArray) -> FloatArray:
    model = params["default_model"]
    coef = np.asarray(model["coefficients"], dtype=np.float64)
    logit = features @ coef + float(model["intercept"])
    return np.asarray(1.0 / (1.0 + np.exp(-logit)), dtype=np.float64)


def load_params(path: Path | None = None) -> dict[str, Any]:
    source = path or Path(__file__).with_name("params.json")
    data: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    return data


@lru_cache(maxsize=4)
def shipped_model() -> CopulaModel:
    return CopulaModel(load_params())
