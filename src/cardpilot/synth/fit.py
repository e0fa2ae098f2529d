"""Fit the synthetic-portfolio parameters from the UCI credit-card file.

The generator (``cardpilot.synth.generate``) draws accounts from a Gaussian copula: every
account is one draw of a correlated standard-normal vector, and each coordinate is turned into
a value through that variable's marginal distribution. This module estimates both parts from
the real data and writes them to ``params.json``, which ships in the package. Only aggregates
leave the real file:

* marginals of continuous variables as quantile tables on the grid 0.1 % … 99.9 %, so even the
  most extreme stored value sits between the 30th and 31st of 30,000 records, never on one;
* marginals of discrete variables as category probabilities;
* the correlation matrix of the normal scores (the copula);
* a handful of rates (e.g. how often a "paid in full" cycle is followed by a payment that
  equals the bill exactly).

Variables. Per account: credit limit (CNY), age, education, sex and marital status. Per
month, oldest (April 2005) to newest (September 2005): repayment status (UCI ``PAY_x``),
utilisation ``BILL_AMT / LIMIT_BAL`` and payment rate ``PAY_AMT / LIMIT_BAL``. Balances and
payments are fitted relative to the limit so one currency conversion (of the limit) scales
every amount consistently.

Currency. UCI amounts are New Taiwan dollars. Limits are converted at ``NT_PER_CNY`` = 4.4
(roughly the TWD/CNY rate of the 2020s) and the generator rounds limits to 100 yuan, the
granularity Chinese issuers grant limits in. Utilisation and payment rates need no scaling.

Default. The ``default_next_month`` label comes from a logistic model on features of the last
6 months (``copula.default_features``), fitted on the real data; its intercept is then shifted so
that accounts drawn from the copula default at the real rate (22.12 %).

Discrete variables and ties. Normal scores of tied values (e.g. the 15,000 status-0 cycles)
use randomly broken ranks, the usual "jittered" copula estimate: the discrete marginal is
reproduced exactly and the dependence is slightly attenuated, which is acceptable for
synthetic data.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.optimize import brentq
from scipy.special import expit, ndtri
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from cardpilot.synth.copula import DEFAULT_FEATURES, CopulaModel, default_features

NT_PER_CNY = 4.4
QUANTILE_GRID = np.round(np.linspace(0.001, 0.999, 999), 6)
FIT_SEED = 20051031  # fixed: the fitted file is reproducible byte for byte
MONTHS = 6
# UCI columns of month k, oldest first: status X11..X6, bill X17..X12, payment X23..X18.
STATUS_COLS = [f"X{c}" for c in range(11, 5, -1)]
BILL_COLS = [f"X{c}" for c in range(17, 11, -1)]
PAY_COLS = [f"X{c}" for c in range(23, 17, -1)]
UCI_SOURCE = (
    "Yeh, I.-C. & Lien, C.-H. (2009), The comparisons of data mining techniques for the "
    "predictive accuracy of probability of default of credit card clients, Expert Systems with "
    "Applications 36(2). UCI Machine Learning Repository, doi:10.24432/C55S3H. CC BY 4.0."
)
# Labels as the UCI import writes them (cardpilot.ingest.uci); undocumented codes (education
# 0/5/6, marriage 0) are folded into 0, "unknown".
EDUCATION = {0: "unknown", 1: "graduate", 2: "university", 3: "high_school", 4: "other"}
SEX = {1: "male", 2: "female"}
MARITAL = {0: "unknown", 1: "married", 2: "single", 3: "other"}

FloatArray = npt.NDArray[np.float64]


class FitError(ValueError):
    """The input file is not the UCI credit-card file the fit expects."""


def read_uci_matrix(path: Path) -> pl.DataFrame:
    """The UCI file as floats (some cells are written like ``1.00E+05``)."""
    if not path.exists():
        raise FitError(f"{path}: file not found; pass the UCI credit-card CSV (see data README)")
    frame = pl.read_csv(path, infer_schema=False)
    expected = ["ID", *(f"X{i}" for i in range(1, 24)), "Y"]
    if frame.columns != expected:
        raise FitError(f"{path}: expected columns {expected}, found {frame.columns}")
    return frame.select(pl.all().cast(pl.Float64))


def _normal_scores(values: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Normal scores of ranks with ties broken at random (see module docstring)."""
    n = values.shape[0]
    order = np.lexsort(np.vstack([rng.random(n), values]))
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = np.arange(n, dtype=np.float64)
    return np.asarray(ndtri((ranks + 0.5) / n), dtype=np.float64)


def _continuous(name: str, values: FloatArray) -> dict[str, Any]:
    quantiles = np.quantile(values, QUANTILE_GRID)
    return {
        "name": name,
        "kind": "continuous",
        "probabilities": QUANTILE_GRID.tolist(),
        "quantiles": [float(f"{q:.6g}") for q in quantiles],
    }


def _discrete(
    name: str, values: FloatArray, labels: dict[int, str] | None = None
) -> dict[str, Any]:
    codes, counts = np.unique(values.astype(np.int64), return_counts=True)
    spec: dict[str, Any] = {
        "name": name,
        "kind": "discrete",
        "values": [int(c) for c in codes],
        "probabilities": [round(float(c) / values.shape[0], 8) for c in counts],
    }
    if labels is not None:
        spec["labels"] = labels
    return spec


def _fold(values: FloatArray, known: dict[int, str]) -> FloatArray:
    """Undocumented codes become 0 ("unknown") so every generated code has a label."""
    out = values.copy()
    out[~np.isin(values, list(known))] = 0
    return out


def fit_params(path: Path) -> dict[str, Any]:
    """Estimate the generator parameters from the UCI file at ``path``."""
    frame = read_uci_matrix(path)
    rng = np.random.default_rng(FIT_SEED)
    limit_nt = frame["X1"].to_numpy()
    if np.any(limit_nt <= 0):
        raise FitError(f"{path}: LIMIT_BAL (X1) must be positive in every row")

    education = _fold(frame["X3"].to_numpy(), EDUCATION)
    marital = _fold(frame["X4"].to_numpy(), MARITAL)
    columns: list[tuple[dict[str, Any], FloatArray]] = [
        (_continuous("credit_limit_cny", limit_nt / NT_PER_CNY), limit_nt),
        (_discrete("age", frame["X5"].to_numpy()), frame["X5"].to_numpy()),
        (
            _discrete("education", education, EDUCATION),
            education,
        ),
        (_discrete("sex", frame["X2"].to_numpy(), SEX), frame["X2"].to_numpy()),
        (_discrete("marital_status", marital, MARITAL), marital),
    ]
    for month in range(MONTHS):
        status = frame[STATUS_COLS[month]].to_numpy()
        utilisation = frame[BILL_COLS[month]].to_numpy() / limit_nt
        payment_rate = frame[PAY_COLS[month]].to_numpy() / limit_nt
        columns.append((_discrete(f"status_m{month}", status), status))
        columns.append((_continuous(f"utilisation_m{month}", utilisation), utilisation))
        columns.append((_continuous(f"payment_rate_m{month}", payment_rate), payment_rate))

    scores = np.column_stack([_normal_scores(values, rng) for _, values in columns])
    correlation = np.asarray(np.corrcoef(scores, rowvar=False), dtype=np.float64)

    # How often a cycle's status is followed next month by a payment equal to its bill:
    # "paid in full" (-1) and "no consumption" (-2) cycles mostly are, revolving ones rarely.
    pay_in_full: dict[str, float] = {}
    for code in (-2, -1, 0):
        hits = 0
        total = 0
        for month in range(MONTHS - 1):
            status = frame[STATUS_COLS[month]].to_numpy()
            bill = frame[BILL_COLS[month]].to_numpy()
            paid_next = frame[PAY_COLS[month + 1]].to_numpy()
            mask = (status == code) & (bill > 0)
            hits += int(np.sum(paid_next[mask] == bill[mask]))
            total += int(np.sum(mask))
        pay_in_full[str(code)] = round(hits / total, 6) if total else 0.0

    default_model = _fit_default_model(frame, columns, correlation)

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {
        "format": 1,
        "source": {
            "citation": UCI_SOURCE,
            "file_sha256": digest,
            "rows": frame.height,
            "months": MONTHS,
            "observed": "2005-04 .. 2005-09, label 2005-10",
        },
        "currency": "CNY",
        "nt_per_cny": NT_PER_CNY,
        "limit_step_yuan": 100,
        "default_rate": round(float(np.mean(frame["Y"].to_numpy())), 6),
        "months": MONTHS,
        "static_variables": 5,
        "month_variables": 3,
        "variables": [spec for spec, _ in columns],
        "correlation": [[round(float(c), 5) for c in row] for row in correlation],
        "pay_in_full_next_month": pay_in_full,
        "default_model": default_model,
    }


def _fit_default_model(
    frame: pl.DataFrame,
    columns: list[tuple[dict[str, Any], FloatArray]],
    correlation: FloatArray,
) -> dict[str, Any]:
    limit_nt = frame["X1"].to_numpy()
    status = np.column_stack([frame[c].to_numpy() for c in STATUS_COLS]).astype(np.int64)
    bills = np.column_stack([frame[c].to_numpy() for c in BILL_COLS])
    pays = np.column_stack([frame[c].to_numpy() for c in PAY_COLS])
    features = default_features(
        status,
        bills / limit_nt[:, None],
        pays / limit_nt[:, None],
        limit_nt / NT_PER_CNY,
        frame["X5"].to_numpy().astype(np.int64),
    )
    target = frame["Y"].to_numpy().astype(np.int64)
    # Newton steps to a tight tolerance: the optimum, not wherever a loose solver stops. lbfgs
    # at its default tolerance stopped ~0.01 short on these unscaled features, at a point that
    # moved with the processor's BLAS kernels, so the shipped file could not be reproduced on
    # another machine.
    model = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10, max_iter=100)
    model.fit(features, target)
    auc = roc_auc_score(target, model.predict_proba(features)[:, 1])
    coefficients = [round(float(c), 6) for c in model.coef_[0]]

    # Shift the intercept so accounts drawn from the copula default at the real rate.
    params = {
        "format": 1,
        "static_variables": 5,
        "month_variables": 3,
        "months": MONTHS,
        "variables": [spec for spec, _ in columns],
        "correlation": correlation.tolist(),
        "pay_in_full_next_month": {},
    }
    copula = CopulaModel(params)
    draw = copula.draw(np.random.default_rng(FIT_SEED), 200_000, MONTHS)
    logit = default_features(
        draw.status, draw.utilisation, draw.payment_rate, draw.credit_limit_cny, draw.age
    ) @ np.asarray(coefficients)
    rate = float(target.mean())
    intercept = float(brentq(lambda b: float(np.mean(expit(logit + b))) - rate, -20.0, 20.0))
    return {
        "kind": "logistic",
        "features": list(DEFAULT_FEATURES),
        "coefficients": coefficients,
        "intercept": round(intercept, 6),
        "fitted_intercept": round(float(model.intercept_[0]), 6),
        "auc_on_real_data": round(float(auc), 4),
        "target_rate": round(rate, 6),
    }


def write_params(params: dict[str, Any], out: Path) -> None:
    out.write_text(json.dumps(params, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def default_params_path() -> Path:
    return Path(__file__).with_name("params.json")
