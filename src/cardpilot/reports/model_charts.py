"""The model report's charts: ROC, KS with its peak marked, score distributions, calibration,
information value and feature importance (Vega-Lite specs built with Altair)."""

from __future__ import annotations

from typing import Any

import altair as alt

from cardpilot.reports.charts import BLUE, GREY, PURPLE, RED, Field, bars, spec

RATE_AXIS = alt.Axis(format=".0%", tickCount=6)
IV_STRENGTH = ((0.02, "weak 0.02"), (0.1, "medium 0.1"), (0.3, "strong 0.3"))
SIZE = {"width": "container", "height": 280}
SCORE_AXIS = alt.X(
    "score",
    type="quantitative",
    title="score · 评分",
    axis=alt.Axis(format="d", tickCount=8),
    scale=alt.Scale(zero=False),
)


def _series_colours(field: str, series: dict[str, str]) -> alt.Color:
    """Colour by ``field``, its values (name → colour) in a legend above the chart."""
    return alt.Color(
        field,
        type="nominal",
        title=None,
        scale=alt.Scale(domain=list(series), range=list(series.values())),
    )


def _values(rows: list[dict[str, Any]]) -> alt.InlineData:
    return alt.InlineData(values=rows)


def roc_chart(roc: list[dict[str, float]], auc: float) -> dict[str, Any]:
    model = f"model (AUC {auc:.3f})"
    curves = alt.Scale(domain=[model, "chance"], range=[BLUE, GREY])
    axis = alt.Axis(format=".1f", tickCount=10)
    unit = alt.Scale(domain=[0, 1])
    base = alt.Chart().encode(
        x=alt.X(
            "fpr", type="quantitative", title="false positive rate · 误报率", axis=axis, scale=unit
        ),
        y=alt.Y(
            "tpr", type="quantitative", title="true positive rate · 命中率", axis=axis, scale=unit
        ),
        color=alt.Color("curve", type="nominal", title=None, scale=curves),
    )
    chance = base.mark_line(strokeDash=[4, 4]).properties(
        data=_values(
            [
                {"fpr": 0.0, "tpr": 0.0, "curve": "chance"},
                {"fpr": 1.0, "tpr": 1.0, "curve": "chance"},
            ]
        )
    )
    curve = (
        base.mark_line()
        .encode(
            tooltip=[
                alt.Tooltip("fpr", type="quantitative", title="false positive rate", format=".3f"),
                alt.Tooltip("tpr", type="quantitative", title="true positive rate", format=".3f"),
            ],
        )
        .properties(data=_values([{**r, "curve": model} for r in roc]))
    )
    return spec(alt.layer(chance, curve).properties(title="ROC (test)", **SIZE))


def ks_chart(ks: dict[str, Any]) -> dict[str, Any]:
    """Cumulative shares of defaults and non-defaults by score, the KS gap drawn and labelled
    at the score where it peaks."""
    series = {"defaults · 违约": RED, "non-defaults · 未违约": BLUE}
    rows = [
        {"score": p["score"], "population": name, "share": p[key]}
        for p in ks["curve"]
        for name, key in zip(series, ("defaults", "non_defaults"), strict=True)
    ]
    lines = (
        alt.Chart(_values(rows))
        .mark_line()
        .encode(
            x=SCORE_AXIS,
            y=alt.Y(
                "share", type="quantitative", title="cumulative share · 累计占比", axis=RATE_AXIS
            ),
            color=_series_colours("population", series),
            tooltip=[
                alt.Tooltip("population", type="nominal", title="population"),
                alt.Tooltip("score", type="quantitative", title="score at or below"),
                alt.Tooltip("share", type="quantitative", title="cumulative share", format=".1%"),
            ],
        )
    )
    peak = {
        "score": ks["score"],
        "low": min(ks["defaults_share"], ks["non_defaults_share"]),
        "high": max(ks["defaults_share"], ks["non_defaults_share"]),
        "label": f"KS {ks['ks']:.3f} at score {ks['score']}",
    }
    gap = alt.Chart(_values([peak])).encode(x=alt.X("score", type="quantitative"))
    rule = gap.mark_rule(color="#222", strokeWidth=2).encode(
        y=alt.Y("low", type="quantitative"),
        y2=alt.Y2("high"),
        tooltip=[alt.Tooltip("label", type="nominal", title="KS")],
    )
    text = gap.mark_text(align="left", dx=6, fontSize=12, fontWeight="bold").encode(
        y=alt.Y("high", type="quantitative"),
        text=alt.Text("label", type="nominal"),
    )
    return spec(
        alt.layer(lines, rule, text).properties(title=f"KS = {ks['ks']:.3f} (test)", **SIZE)
    )


def distribution_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    series = {"test defaults": RED, "test non-defaults": BLUE, "train": GREY}
    chart = (
        alt.Chart(_values(rows))
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=SCORE_AXIS,
            y=alt.Y(
                "share",
                type="quantitative",
                title="share of the population · 占比",
                axis=alt.Axis(format=".0%"),
            ),
            color=_series_colours("population", series),
            tooltip=[
                alt.Tooltip("population", type="nominal"),
                alt.Tooltip("from", type="quantitative", title="scores from", format=".0f"),
                alt.Tooltip("to", type="quantitative", title="to (below)", format=".0f"),
                alt.Tooltip("share", type="quantitative", title="share", format=".2%"),
            ],
        )
        .properties(title="Score distribution", **SIZE)
    )
    return spec(chart)


def calibration_chart(table: list[dict[str, Any]]) -> dict[str, Any]:
    top = max([max(r["predicted_pd"], r["observed_rate"]) for r in table] + [0.05])
    rows = [{**r, "band_label": f"{r['band']}–{r['band_upper']}"} for r in table]
    diagonal = (
        alt.Chart(_values([{"v": 0.0}, {"v": top}]))
        .mark_line(color=GREY, strokeDash=[4, 4])
        .encode(x=alt.X("v", type="quantitative"), y=alt.Y("v", type="quantitative"))
    )
    points = (
        alt.Chart(_values(rows))
        .mark_line(color=PURPLE, point=alt.OverlayMarkDef(color=PURPLE, size=40))
        .encode(
            x=alt.X(
                "predicted_pd",
                type="quantitative",
                title="predicted PD · 预测违约率",
                axis=RATE_AXIS,
                scale=alt.Scale(domain=[0, top]),
            ),
            y=alt.Y(
                "observed_rate",
                type="quantitative",
                title="observed default rate · 实际违约率",
                axis=RATE_AXIS,
                scale=alt.Scale(domain=[0, top]),
            ),
            order=alt.Order("predicted_pd", type="quantitative"),
            tooltip=[
                alt.Tooltip("band_label", type="nominal", title="score band"),
                alt.Tooltip("accounts", type="quantitative", title="accounts", format=",d"),
                alt.Tooltip("defaults", type="quantitative", title="defaults", format=",d"),
                alt.Tooltip(
                    "predicted_pd", type="quantitative", title="predicted PD", format=".2%"
                ),
                alt.Tooltip("observed_rate", type="quantitative", title="observed", format=".2%"),
            ],
        )
    )
    return spec(
        alt.layer(diagonal, points).properties(title="Calibration (test, by score band)", **SIZE)
    )


def iv_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Information value per characteristic, strongest first, coloured by whether the model
    uses it, with the customary strength thresholds marked."""
    data = [
        {**r, "use": "in the model · 入模" if r["in_model"] else "not used · 未入模"} for r in rows
    ]
    order = [r["characteristic"] for r in rows]
    return bars(
        data,
        category=Field("characteristic", "characteristic · 特征"),
        value=Field("iv", "information value · IV", ".2f"),
        order=order,
        colour=Field("use", "use"),
        colours={"in the model · 入模": BLUE, "not used · 未入模": GREY},
        bar_height=16,
        rules=IV_STRENGTH,
    )


def importance_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return bars(
        rows,
        category=Field("feature", "feature · 特征"),
        value=Field("gain", "importance (gain) · 重要性", ",.0f"),
        order=[r["feature"] for r in rows],
        bar_height=16,
    )


def model_charts(figures: dict[str, Any], metrics: dict[str, float]) -> dict[str, dict[str, Any]]:
    charts = {
        "roc": roc_chart(figures["roc"], metrics["test_auc"]),
        "ks": ks_chart(figures["ks"]),
        "calibration": calibration_chart(figures["calibration"]),
        "distribution": distribution_chart(figures["distribution"]),
    }
    if figures["iv"]:
        charts["iv"] = iv_chart(figures["iv"])
    if figures["importance"]:
        charts["importance"] = importance_chart(figures["importance"])
    return charts
