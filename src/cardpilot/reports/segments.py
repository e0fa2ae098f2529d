"""The cluster profile report: one self-contained HTML page (charts drawn offline).

Rendered from the figures of ``cardpilot.segments.profile.cluster_profile`` (the same dict the
JSON report holds), so the page and the JSON never disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cardpilot.reports.charts import BLUE, COUNT, RED, SHARE, Field, bars, heatmap
from cardpilot.reports.formatting import ReportFormat, configured_locale, report_locale
from cardpilot.reports.page import render_page, write_page

MINOR_UNITS = "minor units"


def _cell(name: str, stats: dict[str, Any], units: dict[str, str], fmt: ReportFormat) -> str:
    def one(v: Any) -> str:
        if v is None:
            return "—"
        if units[name] == MINOR_UNITS:
            return fmt.number(fmt.major(int(v)), 2)
        return fmt.number(v, 2)

    return f"{one(stats['mean'])} / {one(stats['median'])}"


def _unit(unit: str, currency: str | None) -> str:
    """A feature's unit as the page states it: money in major units of the currency."""
    if unit == MINOR_UNITS:
        return f"money, {currency}" if currency else "money"
    return unit


def _rows(entry: dict[str, Any], units: dict[str, str], fmt: ReportFormat) -> dict[str, Any]:
    return {
        **entry,
        "accounts": fmt.count(entry["accounts"]),
        "defaults": fmt.count(entry.get("defaults")),
        "cells": {f: _cell(f, s, units, fmt) for f, s in entry["features"].items()},
        "share": fmt.percent(entry.get("share")),
        "default_rate": fmt.percent(entry.get("default_rate")),
        "pd_mean": fmt.percent(entry.get("pd_mean"), 2),
        "score_mean": fmt.number(entry.get("score_mean"), 1),
        "policy_segment_share": fmt.percent(entry.get("policy_segment_share")),
        "segments": {s: fmt.count(n) for s, n in entry.get("segments", {}).items()},
    }


def _label(cluster: dict[str, Any]) -> str:
    return f"{cluster['code']} · {cluster['name_zh']}"


def profile_charts(profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The page's charts: accounts and default rate per cluster, clusters × policy segments."""
    clusters = profile["clusters"]
    order = [_label(c) for c in clusters]
    data = [
        {
            "cluster": _label(c),
            "name_en": c["name_en"],
            "accounts": c["accounts"],
            "share": c["share"] or 0.0,
            "default_rate": c.get("default_rate"),
        }
        for c in clusters
    ]
    charts = {
        "cluster-accounts": bars(
            data,
            category=Field("cluster", "cluster · 聚类"),
            value=Field("accounts", "accounts · 账户数", COUNT),
            order=order,
            details=[Field("share", "share · 占比", SHARE), Field("name_en", "name")],
            colour_value=BLUE,
        )
    }
    if profile.get("label"):
        charts["cluster-default-rate"] = bars(
            data,
            category=Field("cluster", "cluster · 聚类"),
            value=Field("default_rate", "default rate · 违约率", SHARE),
            order=order,
            details=[Field("accounts", "accounts · 账户数", COUNT)],
            colour_value=RED,
        )
    if profile.get("policy_version"):
        segments = list(profile["policy_segments"])
        charts["cluster-segments"] = heatmap(
            [
                {"cluster": _label(c), "segment": s, "accounts": c["segments"][s]}
                for c in clusters
                for s in segments
            ],
            x=Field("segment", "policy segment · 策略客群"),
            y=Field("cluster", "cluster · 聚类"),
            value=Field("accounts", "accounts · 账户数", COUNT),
            x_order=segments,
            y_order=order,
            cell=96,
            scheme="blues",
        )
    return charts


def render_profile_report(
    profile: dict[str, Any], *, currency: str | None = None, locale: str | None = None
) -> str:
    """The profile page, its figures written for ``locale`` (zh-CN by default, en); money in
    major units of ``currency`` (the portfolio's)."""
    currency = currency or profile.get("currency")
    fmt = ReportFormat(report_locale(locale or configured_locale()), currency or "CNY")
    units: dict[str, str] = profile["features"]
    context = {
        "currency": currency,
        "feature_units": {f: _unit(u, currency) for f, u in units.items()},
        "p": profile,
        "clusters": [_rows(c, units, fmt) for c in profile["clusters"]],
        "overall": _rows(profile["overall"], units, fmt),
        "features": list(units),
        "units": units,
        "agreement": fmt.percent(profile.get("agreement")),
        "accounts": fmt.count(profile["accounts"]),
    }
    return render_page("segments.html.j2", context, profile_charts(profile), fmt)


def write_profile_report(
    profile: dict[str, Any], out: Path, *, currency: str | None = None
) -> Path:
    """Write the page for ``profile`` (money in ``currency``) to ``out``."""
    return write_page(render_profile_report(profile, currency=currency), out)
