"""Model selection by cross-validation on the training rows of the reference split only.

Every choice of features, binning, regularisation and LightGBM settings in docs/scoring.md
("How the model was chosen") was made with this script: stratified K-fold (optionally repeated)
on the 70 % training rows of the reference split, mean fold AUC and KS. The test rows are never
read unless ``--test`` is given, which fits once on all training rows and reports the test
split — run it once per configuration family, after the choice. One JSON object per run on
stdout. Data: Yeh & Lien (2009), UCI doi:10.24432/C55S3H, CC BY 4.0.

    .venv/bin/python bench/select_models.py --family scorecard --set '{"min_iv": 0.03}'
    .venv/bin/python bench/select_models.py --family gbm --set '{"learning_rate": 0.02}'
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "uci_credit_card_default.csv"

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)


def load(data: Path, cache: Path | None, extras: str | None) -> tuple[pl.DataFrame, np.ndarray]:
    if cache is not None and cache.exists():
        frame = pl.read_parquet(cache)
        return frame.drop("_y"), frame.get_column("_y").to_numpy().astype(np.int8)
    from cardpilot.ingest.uci import read_uci
    from cardpilot.scoring.training import training_data

    read = read_uci(data)
    td = training_data(read, read.labels)
    if extras:
        from _extras_proto import extras as extra_frame
        from _extras_proto import extras3

        more = (extras3 if extras == "pass3" else extra_frame)(read, td.as_of)
        td = dataclasses.replace(
            td, features=td.features.join(more, on="account_id", how="left", maintain_order="left")
        )
    if cache is not None:
        td.features.with_columns(_y=pl.Series(td.y)).write_parquet(cache)
    return td.features, td.y


def cache_binning(folder: Path) -> None:
    """Memoise the scorecard's per-characteristic binning on disk: it depends only on the
    column, the fold's labels and the binning settings, so runs that vary only what comes after
    it (C, min_iv, max_corr, the candidate list) reuse it. Same results, minutes faster."""
    import hashlib

    from cardpilot.scoring import scorecard

    folder.mkdir(parents=True, exist_ok=True)
    original = scorecard._optimal_bins

    def cached(name: str, x: np.ndarray, y: np.ndarray, params: Any) -> Any:
        digest = hashlib.sha256(repr((name, params.binning_key())).encode())
        digest.update(np.ascontiguousarray(x).astype(str).tobytes())
        digest.update(np.ascontiguousarray(y).tobytes())
        path = folder / f"{digest.hexdigest()[:32]}.json"
        if path.exists():
            return scorecard._Binned(**json.loads(path.read_text()))
        binned = original(name, x, y, params)
        path.write_text(json.dumps(dataclasses.asdict(binned)))
        return binned

    scorecard._optimal_bins = cached  # type: ignore[assignment]


TRENDS = ("auto_asc_desc", "peak", "valley", "auto_heuristic")


def choose_trends(
    Xtr: pl.DataFrame, ytr: np.ndarray, cands: list[str], params: Any, args: Any
) -> dict[str, Any]:
    """Per characteristic without a domain direction: the optbinning trend whose binning, fitted
    on the fold's other rows, ranks the held-out rows best (mean fold AUC of the WoE alone).
    Training rows only; the chosen set then goes through the full CV like any setting."""
    from sklearn.model_selection import StratifiedKFold

    from cardpilot.scoring import scorecard
    from cardpilot.scoring.features import CATEGORICAL_FEATURES, feature_spec

    free = [
        n for n in cands if n not in CATEGORICAL_FEATURES and feature_spec(n).risk_direction == 0
    ]
    folds = list(
        StratifiedKFold(args.folds, shuffle=True, random_state=args.seed).split(
            np.zeros(len(ytr)), ytr
        )
    )
    table: dict[str, dict[str, float]] = {}
    for name in free:
        col = scorecard._column(Xtr, name, None)
        table[name] = {}
        for trend in TRENDS:
            p = dataclasses.replace(params, trends=((name, trend),))
            aucs = []
            for fit_rows, val_rows in folds:
                yf = ytr[fit_rows]
                b = scorecard._optimal_bins(name, col[fit_rows], yf, p)
                idx_f = scorecard._bin_index(col[fit_rows], b)
                n_all = np.bincount(idx_f, minlength=b.n_bins + 1)
                n_bad = np.bincount(idx_f, weights=yf, minlength=b.n_bins + 1)
                woe = np.log((n_bad + 0.5) / (n_all - n_bad + 0.5))
                woe[n_all == 0] = 0.0
                aucs.append(
                    fold_metrics(ytr[val_rows], woe[scorecard._bin_index(col[val_rows], b)])[0]
                )
            table[name][trend] = round(float(np.mean(aucs)), 5)
    chosen = {n: max(t, key=lambda k: (t[k], k == params.free_trend)) for n, t in table.items()}
    changed = [[n, c] for n, c in chosen.items() if c != params.free_trend]
    return {"fold_auc_by_trend": table, "trends": changed}


def fold_metrics(y: np.ndarray, risk: np.ndarray) -> tuple[float, float]:
    from cardpilot.scoring.metrics import discrimination

    m = discrimination(y, risk)
    return float(m["auc"]), float(m["ks"])


def gbm_cv(
    Xtr: pl.DataFrame, ytr: np.ndarray, cands: list[str], params: Any, args: Any
) -> dict[str, Any]:
    """fit_gbm's own fold loop (early stopping on each validation fold), seeds of the folds
    from ``--seed``; AUC/KS of each fold's margins.

    ``--lgb`` overrides LightGBM's own parameters (``{"monotone_constraints": "none"}`` lifts
    every constraint). ``--rounds N`` fits N rounds without early stopping (DART has none) and
    takes the round at the highest *mean* fold AUC, checked every 10 rounds, for all folds
    alike. ``--with-scorecard`` also fits the shipped scorecard on each fold's fitting rows and
    scores, on the same held-out rows, the scorecard alone, logit blends ``w · GBM + (1 − w) ·
    scorecard`` and a GBM boosted from the scorecard's logit (LightGBM ``init_score``, at full
    and half weight)."""
    from sklearn.model_selection import StratifiedKFold

    from cardpilot.scoring.features import CATEGORICAL_FEATURES
    from cardpilot.scoring.gbm import _lgb_params, _matrix, fold_booster, model_inputs, seeded

    names = model_inputs(Xtr, cands, params)
    categories = {
        n: sorted(Xtr.get_column(n).drop_nulls().cast(pl.Utf8).unique().to_list())
        for n in names
        if n in CATEGORICAL_FEATURES
    }
    X = _matrix(Xtr, names, categories)
    cat_idx = [i for i, n in enumerate(names) if n in categories]
    lgb_params = {**_lgb_params(params, names), **json.loads(args.lgb)}
    if lgb_params["monotone_constraints"] == "none":
        lgb_params["monotone_constraints"] = [0] * len(names)
    checks = list(range(10, args.rounds + 1, 10)) if args.rounds else []
    bag = max(args.seeds, params.n_seeds)
    # variant -> per fold: AUC/KS (or, with --rounds, the AUC/KS curve over the checks)
    figures: dict[str, list[Any]] = {}
    best: list[int] = []
    for r in range(args.repeats):
        folds = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed + r)
        for fit_rows, val_rows in folds.split(X, ytr):
            yv = ytr[val_rows]
            if checks:
                curve = np.zeros((len(checks), len(val_rows)))
                for b in range(bag):
                    booster = fixed_rounds(
                        seeded(lgb_params, params.seed + b),
                        X,
                        ytr,
                        fit_rows,
                        names,
                        cat_idx,
                        args.rounds,
                    )
                    for i, c in enumerate(checks):
                        curve[i] += booster.predict(X[val_rows], num_iteration=c, raw_score=True)
                figures.setdefault("gbm", []).append([fold_metrics(yv, m) for m in curve])
                continue
            margins = {"gbm": np.zeros(len(val_rows))}
            base = None
            if args.with_scorecard:
                base = scorecard_logits(Xtr, ytr, cands, fit_rows, val_rows)
            for b in range(bag):
                seeded_params = seeded(lgb_params, params.seed + b)
                booster, fold_margin = fold_booster(
                    seeded_params, params, X, ytr, fit_rows, val_rows, names, cat_idx
                )
                margins["gbm"] += fold_margin / bag
                best.append(int(booster.best_iteration))
                if base is not None:
                    for weight in (1.0, 0.5):
                        key = f"init_scorecard_{weight}"
                        start = (weight * base[0], weight * base[1])
                        margins.setdefault(key, np.zeros(len(val_rows)))
                        _, boosted = fold_booster(
                            seeded_params, params, X, ytr, fit_rows, val_rows, names, cat_idx, start
                        )
                        margins[key] += boosted / bag
            if base is not None:
                margins["scorecard"] = base[1]
                for w in (0.5, 0.7, 0.8, 0.9):
                    margins[f"blend_{w}"] = w * margins["gbm"] + (1 - w) * base[1]
            for key, margin in margins.items():
                figures.setdefault(key, []).append(fold_metrics(yv, margin))
    out: dict[str, Any] = {}
    for key, per_fold in figures.items():
        if checks:
            aucs = np.array([[a for a, _ in f] for f in per_fold])
            kss = np.array([[k for _, k in f] for f in per_fold])
            at = int(np.argmax(aucs.mean(axis=0)))
            fold_auc, fold_ks = aucs[:, at], kss[:, at]
            extra = {"rounds": checks[at]}
        else:
            fold_auc = np.array([a for a, _ in per_fold])
            fold_ks = np.array([k for _, k in per_fold])
            extra = {}
        out[key] = {
            "cv_auc": round(float(fold_auc.mean()), 4),
            "cv_auc_sd": round(float(fold_auc.std()), 4),
            "cv_ks": round(float(fold_ks.mean()), 4),
            "cv_ks_sd": round(float(fold_ks.std()), 4),
            "folds": len(fold_auc),
            **extra,
        }
    main_figures = out.pop("gbm")
    return {**main_figures, "per_fold_size": best, **({"variants": out} if out else {})}


def fixed_rounds(
    lgb_params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    fit_rows: np.ndarray,
    names: list[str],
    cat_idx: list[int],
    rounds: int,
) -> Any:
    import lightgbm as lgb

    train_set = lgb.Dataset(
        X[fit_rows], y[fit_rows], feature_name=names, categorical_feature=cat_idx
    )
    return lgb.train(lgb_params, train_set, num_boost_round=rounds)


def scorecard_logits(
    Xtr: pl.DataFrame, ytr: np.ndarray, cands: list[str], fit_rows: np.ndarray, val_rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The shipped scorecard fitted on the fold's fitting rows; its log-odds of default (from
    the integer points: PDO points per doubling) on the fitting and held-out rows, centred on
    the fitting rows' mean."""
    from cardpilot.scoring.scorecard import ScorecardParams, fit_scorecard

    model, _ = fit_scorecard(Xtr[fit_rows], ytr[fit_rows], cands, ScorecardParams())
    per_point = np.log(2) / model.scale.pdo
    fit = -model.score_arrays(Xtr[fit_rows], threads=1)[0].astype(np.float64) * per_point
    val = -model.score_arrays(Xtr[val_rows], threads=1)[0].astype(np.float64) * per_point
    return fit - fit.mean(), val - fit.mean()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--family", choices=["scorecard", "gbm"], required=True)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--cache", type=Path, default=None, help="parquet cache of the features")
    ap.add_argument("--set", default="{}", help="JSON overrides of ScorecardParams/GbmParams")
    ap.add_argument("--drop", default="", help="comma-separated candidates to leave out")
    ap.add_argument("--only", default="", help="comma-separated candidates to use (all if empty)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seed", type=int, default=2026, help="fold seed (not the model's seed)")
    ap.add_argument("--label", default="")
    ap.add_argument("--seeds", type=int, default=1, help="gbm: boosters averaged per fold")
    ap.add_argument(
        "--extras",
        nargs="?",
        const="pass1",
        choices=["pass1", "pass3"],
        help="add the prototype features (bench/_extras_proto.py: EXTRAS, or EXTRAS3)",
    )
    ap.add_argument("--test", action="store_true", help="fit on all training rows, report test")
    ap.add_argument(
        "--choose-trends", action="store_true", help="scorecard: per-characteristic trend by CV"
    )
    ap.add_argument("--bin-cache", type=Path, default=None, help="folder memoising binnings")
    ap.add_argument("--lgb", default="{}", help="gbm: JSON overrides of LightGBM's parameters")
    ap.add_argument("--rounds", type=int, default=0, help="gbm: fixed rounds, best mean round")
    ap.add_argument(
        "--with-scorecard", action="store_true", help="gbm: also blends and boosting from it"
    )
    args = ap.parse_args()
    if not args.data.exists():
        sys.exit(f"data file not found: {args.data} (see ../shared/data/README.md)")

    from sklearn.model_selection import StratifiedKFold

    from cardpilot.scoring.gbm import GbmParams, fit_gbm
    from cardpilot.scoring.scorecard import ScorecardParams, fit_scorecard
    from cardpilot.scoring.training import candidate_features, reference_split

    if args.extras:
        sys.path.insert(0, str(REPO / "bench"))
        from _extras_proto import EXTRAS3, register

        register(EXTRAS3 if args.extras == "pass3" else None)
    if args.bin_cache is not None:
        cache_binning(args.bin_cache)
    features, y = load(args.data, args.cache, args.extras)
    train, test = reference_split(y)
    Xtr, ytr = features[train], y[train]
    cands = candidate_features(features, ["sex", "marital_status"])
    if args.only:
        cands = [c for c in cands if c in args.only.split(",")]
    if args.drop:
        cands = [c for c in cands if c not in args.drop.split(",")]
    overrides = json.loads(args.set)
    for key, value in overrides.items():
        if isinstance(value, list):
            overrides[key] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
    params: Any
    if args.family == "scorecard":
        params = dataclasses.replace(ScorecardParams(), **overrides)
    else:
        params = dataclasses.replace(GbmParams(), threads=1, **overrides)

    def fit_and_risk(fx: pl.DataFrame, fy: np.ndarray, vx: pl.DataFrame) -> tuple[Any, np.ndarray]:
        if args.family == "scorecard":
            model, summary = fit_scorecard(fx, fy, cands, params)
            score, _ = model.score_arrays(vx, threads=1)
            return summary, -score.astype(np.float64)
        model, summary = fit_gbm(fx, fy, cands, params)
        score, _ = model.score_arrays(vx)
        return summary, -score.astype(np.float64)

    started = time.perf_counter()
    out: dict[str, Any] = {
        "family": args.family,
        "label": args.label,
        "params": overrides,
        "candidates": len(cands),
        "dropped": [d for d in args.drop.split(",") if d],
    }
    if args.choose_trends:
        out.update(choose_trends(Xtr, ytr, cands, params, args))
    elif args.test:
        summary, risk = fit_and_risk(Xtr, ytr, features[test])
        auc_, ks_ = fold_metrics(y[test], risk)
        out.update(
            test_auc=round(auc_, 4),
            test_ks=round(ks_, 4),
            selected=summary.get("selected", list(summary.get("importance_gain", {}))),
            rounds=summary.get("rounds"),
        )
    elif args.family == "gbm":
        out.update(gbm_cv(Xtr, ytr, cands, params, args))
    else:
        aucs, kss, sizes = [], [], []
        for r in range(args.repeats):
            folds = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed + r)
            for fit_rows, val_rows in folds.split(np.zeros(len(ytr)), ytr):
                summary, risk = fit_and_risk(Xtr[fit_rows], ytr[fit_rows], Xtr[val_rows])
                a, k = fold_metrics(ytr[val_rows], risk)
                aucs.append(a)
                kss.append(k)
                sizes.append(len(summary.get("selected", [])))
        out.update(
            cv_auc=round(float(np.mean(aucs)), 4),
            cv_auc_sd=round(float(np.std(aucs)), 4),
            cv_ks=round(float(np.mean(kss)), 4),
            cv_ks_sd=round(float(np.std(kss)), 4),
            folds=len(aucs),
            per_fold_size=sizes,
        )
    out["seconds"] = round(time.perf_counter() - started, 1)
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
