"""The model report: one self-contained HTML file (inline SVG, no scripts, no downloads)."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import numpy.typing as npt

from cardpilot.scoring.metrics import roc_points

W, H, PAD = 360, 240, 32
ATTRIBUTION = (
    "Data: Yeh, I.-C. &amp; Lien, C.-H. (2009), Default of Credit Card Clients, UCI Machine "
    "Learning Repository, doi:10.24432/C55S3H, CC BY 4.0."
)


def _poly(
    xs: npt.ArrayLike,
    ys: npt.ArrayLike,
    colour: str,
    x_rng: tuple[float, float],
    y_rng: tuple[float, float],
) -> str:
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    px = PAD + (x - x_rng[0]) / max(x_rng[1] - x_rng[0], 1e-12) * (W - 2 * PAD)
    py = H - PAD - (y - y_rng[0]) / max(y_rng[1] - y_rng[0], 1e-12) * (H - 2 * PAD)
    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))
    return f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{pts}"/>'


def _frame(title: str, body: str, x_label: str, y_label: str) -> str:
    axes = (
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#444"/>'
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="#444"/>'
        f'<text x="{W / 2}" y="{H - 6}" text-anchor="middle" font-size="11">{x_label}</text>'
        f'<text x="10" y="{H / 2}" font-size="11" transform="rotate(-90 10 {H / 2})" '
        f'text-anchor="middle">{y_label}</text>'
        f'<text x="{W / 2}" y="16" text-anchor="middle" font-size="13">{title}</text>'
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}">{axes}{body}</svg>'


def _table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return "<p>(none)</p>"
    cols = columns or list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return ", ".join(map(str, v))
    return str(v)


def model_report(
    metadata: dict[str, Any],
    y_test: npt.NDArray[np.int8],
    test_score: npt.NDArray[np.int32],
    train_score: npt.NDArray[np.int32],
    scorecard_rows: list[dict[str, Any]] | None = None,
) -> str:
    risk = -test_score.astype(float)
    fpr, tpr = roc_points(y_test, risk)
    roc = _frame(
        "ROC (test)",
        _poly([0, 1], [0, 1], "#bbb", (0, 1), (0, 1)) + _poly(fpr, tpr, "#1f5fa8", (0, 1), (0, 1)),
        "false positive rate",
        "true positive rate",
    )
    lo, hi = float(test_score.min()), float(test_score.max())
    grid = np.linspace(lo, hi, 120)
    bad = np.sort(test_score[y_test == 1])
    good = np.sort(test_score[y_test == 0])
    cb = np.searchsorted(bad, grid, side="right") / max(len(bad), 1)
    cg = np.searchsorted(good, grid, side="right") / max(len(good), 1)
    ks_chart = _frame(
        f"KS = {metadata['metrics']['test_ks']:.3f}",
        _poly(grid, cb, "#c0392b", (lo, hi), (0, 1)) + _poly(grid, cg, "#27ae60", (lo, hi), (0, 1)),
        "score (red: defaults, green: non-defaults, cumulative)",
        "share",
    )
    edges = np.linspace(lo, hi + 1, 31)
    hb = np.histogram(bad, edges)[0] / max(len(bad), 1)
    hg = np.histogram(good, edges)[0] / max(len(good), 1)
    htr = np.histogram(train_score, edges)[0] / max(len(train_score), 1)
    top = float(max(hb.max(), hg.max(), htr.max(), 1e-9))
    mids = (edges[:-1] + edges[1:]) / 2
    dist = _frame(
        "Score distribution",
        _poly(mids, hb, "#c0392b", (lo, hi), (0, top))
        + _poly(mids, hg, "#27ae60", (lo, hi), (0, top))
        + _poly(mids, htr, "#888", (lo, hi), (0, top)),
        "score (red/green: test defaults/non-defaults, grey: train)",
        "share",
    )
    cal = metadata.get("calibration_table", [])
    top_rate = max([max(r["predicted_pd"], r["observed_rate"]) for r in cal] + [1e-9])
    cal_chart = _frame(
        "Calibration (test, by score band)",
        _poly([0, top_rate], [0, top_rate], "#bbb", (0, top_rate), (0, top_rate))
        + _poly(
            [r["predicted_pd"] for r in cal],
            [r["observed_rate"] for r in cal],
            "#8e44ad",
            (0, top_rate),
            (0, top_rate),
        ),
        "predicted PD",
        "observed default rate",
    )
    m = metadata["metrics"]
    iv = metadata.get("fit_summary", {}).get("iv", {})
    iv_rows = [
        {"characteristic": k, "iv": v, "in_model": k in metadata["features"]}
        for k, v in sorted(iv.items(), key=lambda kv: -kv[1])
    ]
    imp = metadata.get("fit_summary", {}).get("importance_gain", {})
    imp_rows = [{"feature": k, "gain": v} for k, v in sorted(imp.items(), key=lambda kv: -kv[1])]
    sections = [
        f"<h1>cardpilot model report — {html.escape(metadata['version'])}</h1>",
        f"<p>Family <b>{metadata['family']}</b>; trained {metadata['created_at']}; data "
        f"{html.escape(metadata['data_hash'])}; as of {metadata['as_of']}; split "
        f"{metadata['split']['train_rows']} train / {metadata['split']['test_rows']} test "
        f"(stratified, seed {metadata['split']['random_state']}).</p>",
        _table(
            [
                {
                    "set": s,
                    "AUC": m[f"{s}_auc"],
                    "KS": m[f"{s}_ks"],
                    "Gini": m[f"{s}_gini"],
                }
                for s in ("train", "test")
            ]
        ),
        f"<p>Population stability index, train → test scores: <b>{m['psi_train_test']:.4f}</b> "
        "(&lt; 0.10 stable, 0.10–0.25 watch, &gt; 0.25 shifted).</p>",
        f"<div>{roc}{ks_chart}</div><div>{cal_chart}{dist}</div>",
        "<h2>Calibration table (test)</h2>",
        _table(cal),
    ]
    if iv_rows:
        sections += ["<h2>Information value per characteristic (train)</h2>", _table(iv_rows)]
    if imp_rows:
        sections += ["<h2>Feature importance (gain)</h2>", _table(imp_rows)]
    if scorecard_rows:
        sections += [
            "<h2>Scorecard</h2>",
            _table(
                scorecard_rows,
                ["characteristic", "bin", "points", "woe", "accounts", "event_rate"],
            ),
        ]
    fair = metadata.get("fairness", {})
    sections += [
        "<h2>Fairness (measured on test, never a model input)</h2>",
        f"<p>Good grade: score ≥ {fair.get('good_grade_cut')} (median train score).</p>",
        _table(fair.get("groups", [])),
        f"<p><small>{ATTRIBUTION}</small></p>",
    ]
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "table{border-collapse:collapse;font-size:12px;margin:8px 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px}svg{margin:4px}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>cardpilot model report</title>"
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>"
    )
