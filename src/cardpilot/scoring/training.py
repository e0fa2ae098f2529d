"""Training both model families on one split, with metrics, calibration and fairness.

The reference split (../shared/data/README.md): stratified 70/30 on the label, seed 42, over the
labelled accounts in their source order (UCI row order), so figures stay comparable across
versions. Nothing here looks at the test rows until the models are fitted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from cardpilot.domain import progress
from cardpilot.scoring.application import APPLICATION_FEATURES, application_features
from cardpilot.scoring.features import MODEL_FEATURES, PortfolioLike, behaviour_features
from cardpilot.scoring.gbm import GbmModel, GbmParams, fit_gbm
from cardpilot.scoring.metrics import calibration_table, discrimination, psi
from cardpilot.scoring.protected import DEFAULT_PROTECTED, assert_not_protected
from cardpilot.scoring.scaling import PointsScale
from cardpilot.scoring.scorecard import ScorecardModel, ScorecardParams, fit_scorecard

LABEL = "default_next_month"
APPLICATION_LABEL = "bad_outcome"
SPLIT_SEED = 42
TEST_SHARE = 0.3
STATEMENT_SUBJECTS = ("behaviour", "warning")  # models whose inputs come from statements


@dataclass(frozen=True)
class TrainingData:
    features: pl.DataFrame  # one row per labelled account, in the labels' order
    y: npt.NDArray[np.int8]
    protected: pl.DataFrame  # account_id + protected attributes, same order (fairness only)
    as_of: dt.date
    data_hash: str
    # What is scored: "behaviour" (accounts and their statements) or "application".
    subject: str = "behaviour"
    label: str = LABEL
    candidates: tuple[str, ...] | None = None  # None: the behaviour model features
    # Train and test rows when they are not the reference split of these rows (a subset of a
    # larger population keeps the rows its population's reference split gave it).
    split: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None


def reference_split(y: npt.ArrayLike) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    from sklearn.model_selection import train_test_split

    target = np.asarray(y)
    rows = np.arange(len(target))
    train, test = train_test_split(
        rows, test_size=TEST_SHARE, stratify=target, random_state=SPLIT_SEED
    )
    return np.asarray(train), np.asarray(test)


def frame_hash(*frames: pl.DataFrame) -> str:
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(frame.write_csv().encode())
    return "sha256:" + digest.hexdigest()


def labelled_accounts(
    frames: PortfolioLike, labels: pl.DataFrame, as_of: dt.date | None, label: str
) -> tuple[dt.date, pl.DataFrame]:
    """``as_of`` (default: the latest cycle date) and the accounts' values of one label
    (account_id, y), in the labels' order."""
    if as_of is None:
        latest = frames.statements.get_column("cycle_date").max()
        if not isinstance(latest, dt.date):
            raise ValueError("no statements to compute features from")
        as_of = latest
    chosen = labels.filter(pl.col("label") == label)
    if chosen.is_empty():
        raise ValueError(f"no labels named {label!r}; import labels with the portfolio")
    return as_of, chosen.select("account_id", y=pl.col("value").cast(pl.Int8))


def protected_of(
    frames: PortfolioLike, table: pl.DataFrame, protected: Sequence[str]
) -> pl.DataFrame:
    """account_id and the protected attributes of ``table``'s accounts (fairness only)."""
    attrs = [c for c in protected if c in frames.customers.columns]
    who = (
        frames.accounts.select("account_id", "customer_id")
        .join(frames.customers.select("customer_id", *attrs), on="customer_id", how="left")
        .select("account_id", *attrs)
    )
    return table.select("account_id").join(who, on="account_id", how="left")


def training_data(
    frames: PortfolioLike,
    labels: pl.DataFrame,
    as_of: dt.date | None = None,
    label: str = LABEL,
    protected: Sequence[str] = DEFAULT_PROTECTED,
) -> TrainingData:
    """Features as of ``as_of`` (default: the latest cycle date) joined to one label."""
    as_of, keyed = labelled_accounts(frames, labels, as_of, label)
    feats = behaviour_features(frames, as_of)
    table = keyed.with_row_index("_row").join(feats, on="account_id", how="inner").sort("_row")
    prot = protected_of(frames, table, protected)
    features = table.drop("_row", "y")
    y = table.get_column("y").to_numpy()
    return TrainingData(features, y, prot, as_of, frame_hash(features, table.select("y")))


def candidate_features(
    features: pl.DataFrame,
    protected: Sequence[str],
    offered: Sequence[str] = MODEL_FEATURES,
) -> list[str]:
    names = [c for c in offered if c in features.columns]
    names = [c for c in names if features.get_column(c).null_count() < features.height]
    assert_not_protected(names, protected)
    return names


def _version(family: str, data_hash: str, at: dt.datetime, subject: str = "behaviour") -> str:
    prefix = "" if subject == "behaviour" else f"{subject}-"
    return f"{prefix}{family}-{at:%Y%m%d%H%M%S}-{data_hash.split(':')[-1][:8]}"


@dataclass
class TrainedModel:
    model: ScorecardModel | GbmModel
    metadata: dict[str, Any]
    test_score: npt.NDArray[np.int32]
    train_score: npt.NDArray[np.int32]
    test_pd: npt.NDArray[np.float64]


def fairness_report(
    score: npt.NDArray[np.int32],
    y: npt.NDArray[np.int8],
    protected: pl.DataFrame,
    good_cut: int,
) -> list[dict[str, Any]]:
    """Per protected group: accounts, score distribution, AUC, share at or above ``good_cut``.

    Measured on the test rows, never used by a model.
    """
    rows: list[dict[str, Any]] = []
    for attr in [c for c in protected.columns if c not in ("account_id", "application_id")]:
        groups = protected.get_column(attr).fill_null("unknown").cast(pl.Utf8).to_numpy()
        for g in sorted(set(groups)):
            sel = groups == g
            s, t = score[sel], y[sel]
            both = 0 < int(t.sum()) < len(t)
            rows.append(
                {
                    "attribute": attr,
                    "group": str(g),
                    "accounts": int(sel.sum()),
                    "default_rate": round(float(t.mean()), 6),
                    "score_mean": round(float(s.mean()), 2),
                    "score_p10": int(np.percentile(s, 10)),
                    "score_p50": int(np.percentile(s, 50)),
                    "score_p90": int(np.percentile(s, 90)),
                    "auc": discrimination(t, -s)["auc"] if both else None,
                    "good_grade_share": round(float((s >= good_cut).mean()), 6),
                }
            )
    return rows


def _metrics(test: dict[str, Any], train: dict[str, Any], psi_train_test: float) -> dict[str, Any]:
    """The metrics a model's metadata records: discrimination on both splits, and their PSI."""
    return {
        "test_auc": test["auc"],
        "test_ks": test["ks"],
        "test_gini": test["gini"],
        "train_auc": train["auc"],
        "train_ks": train["ks"],
        "train_gini": train["gini"],
        "psi_train_test": round(psi_train_test, 6),
    }


def train_models(
    data: TrainingData,
    scale: PointsScale | None = None,
    protected: Sequence[str] = DEFAULT_PROTECTED,
    scorecard_params: ScorecardParams | None = None,
    gbm_params: GbmParams | None = None,
    source: str = "",
) -> dict[str, TrainedModel]:
    scale = scale or PointsScale()
    sc_params = scorecard_params or ScorecardParams(scale=scale)
    # The derived GBM inputs are ratios of statement features: behaviour models only.
    gb_params = gbm_params or (
        GbmParams() if data.subject in STATEMENT_SUBJECTS else GbmParams(derived=(), exclude=())
    )
    train, test = data.split if data.split is not None else reference_split(data.y)
    candidates = candidate_features(
        data.features, protected, data.candidates if data.candidates else MODEL_FEATURES
    )
    X_train, X_test = data.features[train], data.features[test]
    y_train, y_test = data.y[train], data.y[test]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    out: dict[str, TrainedModel] = {}
    params = {"scorecard": sc_params.to_dict(), "gbm": gb_params.to_dict()}
    for family in ("scorecard", "gbm"):
        version = _version(family, data.data_hash, now, data.subject)
        started = time.perf_counter()
        model: ScorecardModel | GbmModel
        progress.stage(f"{family}: fitting", None)
        if family == "scorecard":
            model, summary = fit_scorecard(
                X_train, y_train, candidates, sc_params, protected, version=version
            )
        else:
            model, summary = fit_gbm(
                X_train, y_train, candidates, gb_params, scale, protected, version=version
            )
        fit_seconds = time.perf_counter() - started
        progress.stage(f"{family}: scoring train and test rows", None)
        test_score, _ = model.score_arrays(X_test)
        train_score, _ = model.score_arrays(X_train)
        test_pd = model.predict_pd(X_test)
        test_m = discrimination(y_test, -test_score.astype(np.float64))
        train_m = discrimination(y_train, -train_score.astype(np.float64))
        good_cut = int(np.median(train_score))
        metadata: dict[str, Any] = {
            "family": family,
            "subject": data.subject,
            "version": version,
            "created_at": now.isoformat(),
            "source": source,
            "as_of": data.as_of.isoformat(),
            "label": data.label,
            "data_hash": data.data_hash,
            "split": {
                "method": "stratified",
                "test_share": TEST_SHARE,
                "random_state": SPLIT_SEED,
                "train_rows": len(train),
                "test_rows": len(test),
            },
            "features": model.features,
            "candidate_features": candidates,
            "protected_attributes": list(protected),
            "params": params[family],
            "scale": scale.to_dict(),
            "calibration": model.calibration.to_dict(),
            "fit_seconds": round(fit_seconds, 3),
            "fit_summary": summary,
            "metrics": _metrics(test_m, train_m, psi(train_score, test_score)),
            "calibration_table": calibration_table(test_score, test_pd, y_test).to_dicts(),
            "fairness": {
                "good_grade_cut": good_cut,
                "groups": fairness_report(test_score, y_test, data.protected[test], good_cut),
            },
        }
        out[family] = TrainedModel(model, metadata, test_score, train_score, test_pd)
    return out


def application_training_data(
    applications: pl.DataFrame,
    labels: pl.DataFrame,
    protected: Sequence[str] = DEFAULT_PROTECTED,
    as_of: dt.date | None = None,
) -> TrainingData:
    """Application features joined to their outcome (``labels``: application_id, value), in
    the applications' order; protected columns (marital status) kept aside for fairness."""
    keyed = applications.join(
        labels.select("application_id", y=pl.col("value").cast(pl.Int8)),
        on="application_id",
        how="inner",
        maintain_order="left",
    )
    if keyed.is_empty():
        raise ValueError("no application has an outcome; the file needs its outcome column")
    features = application_features(keyed)
    attrs = [c for c in protected if c in keyed.columns]
    prot = keyed.select("application_id", *attrs)
    y = keyed.get_column("y").to_numpy()
    when = as_of or dt.datetime.now(dt.UTC).date()
    return TrainingData(
        features,
        y,
        prot,
        when,
        frame_hash(features, keyed.select("y")),
        subject="application",
        label=APPLICATION_LABEL,
        candidates=APPLICATION_FEATURES,
    )
