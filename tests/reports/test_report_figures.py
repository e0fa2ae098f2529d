"""The reports' figures and charts without a browser: money and counts as a reader of the
locale writes them, grades in the policy's order, information value as a bar chart, the KS
peak, and pages that name nothing on the network."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import polars as pl
import pytest

from cardpilot.reports.charts import in_order
from cardpilot.reports.formatting import ReportFormat, ReportLocaleError, report_locale
from cardpilot.reports.model_charts import iv_chart
from cardpilot.reports.page import render_page
from cardpilot.reports.review import limit_changes_by
from cardpilot.scoring.report import ks_figures, model_report_figures


def test_money_has_thousands_separators_and_the_currency_of_the_locale() -> None:
    assert ReportFormat("zh-CN", "CNY").money(123_456_789) == "¥1,234,567.89"
    assert ReportFormat("en", "CNY").money(123_456_789) == "CN¥1,234,567.89"
    assert ReportFormat("zh-CN", "TWD").money(-500) == "-NT$5.00"
    assert ReportFormat("en", "USD").money(None) == "—"
    assert ReportFormat("zh-CN").count(30_000) == "30,000"
    assert ReportFormat("en").percent("0.123456", 2) == "12.35%"


def test_charts_format_numbers_and_money_as_the_tables_do() -> None:
    zh = ReportFormat("zh-CN", "CNY").chart_number_locale()
    assert (zh["thousands"], zh["decimal"], zh["currency"]) == (",", ".", ["¥", ""])
    assert ReportFormat("en", "TWD").chart_number_locale()["currency"] == ["NT$", ""]


def test_reports_speak_zh_cn_by_default_and_en_and_refuse_other_locales() -> None:
    assert report_locale(None) == "zh-CN"
    assert report_locale("en_US") == "en"
    assert report_locale("zh_CN") == "zh-CN"
    with pytest.raises(ReportLocaleError, match="zh-CN or en"):
        report_locale("fr")


def test_grades_keep_the_policy_order_not_the_alphabet() -> None:
    order = ["excellent", "good", "fair", "poor"]
    assert in_order(["poor", "fair", "excellent", "good", "other"], order) == [*order, "other"]
    decisions = pl.DataFrame(
        {
            "grade": ["poor", "excellent", "fair", "good", "poor", None],
            "action": ["decrease", "increase", "keep", "keep", "keep", "keep"],
            "old_limit_minor": [100, 200, 300, 400, 500, 600],
            "new_limit_minor": [50, 300, 300, 400, 500, 600],
            "increase_pct_bp": [None, 5_000, None, None, None, None],
        }
    )
    rows = limit_changes_by(decisions, "grade", order)
    assert [r["grade"] for r in rows] == [*order, None]
    assert (rows[-2]["n"], rows[-2]["decrease"], rows[-2]["keep"]) == (2, 1, 1)


def test_information_value_is_a_bar_chart_of_every_characteristic_strongest_first() -> None:
    metadata = {
        "features": ["a", "c"],
        "fit_summary": {"iv": {"a": 0.31, "b": 0.5, "c": 0.01}},
        "calibration_table": [],
    }
    y = np.array([0, 1, 0, 1], dtype=np.int8)
    scores = np.array([600, 500, 650, 520], dtype=np.int32)
    figures = model_report_figures(metadata, y, scores, scores)
    spec = iv_chart(figures["iv"])
    bars, thresholds = spec["layer"]
    assert bars["mark"]["type"] == "bar"
    assert bars["encoding"]["y"]["sort"] == ["b", "a", "c"]
    assert bars["encoding"]["x"]["axis"]["format"] == ".2f"  # ticks with numbers
    assert thresholds["mark"]["type"] == "rule"
    used = {r["characteristic"]: r["use"] for r in spec["datasets"][bars["data"]["name"]]}
    assert used == {
        "b": "not used · 未入模",
        "a": "in the model · 入模",
        "c": "in the model · 入模",
    }


def test_the_ks_point_is_the_score_where_the_cumulative_shares_differ_most() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 1, 0], dtype=np.int8)
    scores = np.array([400, 450, 500, 520, 560, 600, 610, 640], dtype=np.int32)
    ks = ks_figures(y, scores)
    # At or below 500: 3 of 4 defaults, 0 of 4 non-defaults.
    assert (ks["score"], ks["ks"]) == (500, 0.75)
    assert (ks["defaults_share"], ks["non_defaults_share"]) == (0.75, 0.0)
    assert {p["score"] for p in ks["curve"]} == {int(s) for s in scores}


def test_a_page_holds_its_chart_specs_and_scripts_inline_and_names_no_address() -> None:
    spec = iv_chart([{"characteristic": "a", "iv": 0.2, "in_model": True}])
    html = render_page("model.html.j2", _minimal_model_context(), {"iv": spec}, ReportFormat())
    head, body = html.rsplit("</head>", 1)
    assert "http" not in body
    assert '<html lang="zh-CN" data-charts="pending">' in head
    specs = [
        json.loads(part.split(">", 1)[1].split("</script>", 1)[0])
        for part in head.split('<script type="application/json" class="cardpilot-chart"')[1:]
    ]
    assert specs[0]["layer"][0]["mark"]["type"] == "bar"
    assert "$schema" not in specs[0]
    assert '<script type="module">' in head
    assert "Noto Sans CJK SC" in head
    assert "WenQuanYi Micro Hei" in head


def _minimal_model_context() -> dict[str, object]:
    table = {"columns": [], "rows": []}
    return {
        "meta": {"version": "v1", "family": "scorecard", "split": {"random_state": 1}},
        "split": {"train_rows": "1", "test_rows": "1"},
        "metrics": [],
        "psi": "0",
        "ks": {"ks": 0.1, "score": 1, "defaults_share": 0.1, "non_defaults_share": 0.0},
        "ks_text": "0.1",
        "calibration": table,
        "iv_count": 1,
        "iv_used": 1,
        "has_importance": False,
        "scorecard": None,
        "good_grade_cut": 1,
        "fairness": table,
        "attribution": "",
    }


def _layers(spec: dict[str, object]) -> list[dict[str, object]]:
    found = [spec] if "mark" in spec else []
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for part in spec.get(key, []) or []:  # type: ignore[attr-defined]
            found += _layers(part)
    return found


def test_every_model_chart_has_axes_with_ticks_a_legend_for_its_colours_and_tooltips() -> None:
    from cardpilot.reports.model_charts import model_charts

    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.25).astype(np.int8)
    scores = (560 - 60 * y.astype(float) + rng.normal(0, 30, y.size)).astype(np.int32)
    metadata = {"features": ["a"], "fit_summary": {"iv": {"a": 0.3}}, "calibration_table": []}
    figures = model_report_figures(metadata, y, scores, scores)
    charts = model_charts(figures, {"test_auc": 0.7})
    assert {"roc", "ks", "calibration", "distribution", "iv"} <= set(charts)
    for name, spec in charts.items():
        marks = [layer for layer in _layers(spec) if layer.get("encoding")]
        assert marks, name
        formatted = set()
        for layer in marks:
            encoding: dict[str, dict[str, Any]] = layer["encoding"]  # type: ignore[assignment]
            for channel in ("x", "y"):
                shown = encoding.get(channel, {})
                if "axis" in shown:  # an axis of null is hidden: never
                    assert shown["axis"] is not None, (name, channel)
                    assert shown["axis"].get("labels", True), (name, channel)
                    assert shown["axis"].get("ticks", True), (name, channel)
                    if shown["axis"].get("format"):
                        formatted.add(channel)
            colour = encoding.get("color")
            if colour is not None and "field" in colour:
                assert colour.get("legend", {}) is not None, name  # a legend names the series
        assert formatted, name  # numbers on the ticks, formatted as the tables are
        assert any("tooltip" in layer["encoding"] for layer in marks), name  # type: ignore[operator]
