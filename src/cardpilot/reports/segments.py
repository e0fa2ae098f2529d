# ruff: noqa: E501  (the HTML template is easier to read unwrapped)
"""The cluster profile report: one self-contained HTML page (inline SVG bars, no network).

Rendered from the figures of ``cardpilot.segments.profile.cluster_profile`` (the same dict the
JSON report holds), so the page and the JSON never disagree.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from cardpilot.domain.money import format_major
from cardpilot.reports.style import BASE_CSS

_TEMPLATE = (
    """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>消费与还款聚类 Spending and repayment clusters {{ p.clustering_version }}</title>
<style>
"""
    + BASE_CSS
    + """body{max-width:1200px}.risk{fill:#c62828}
</style></head><body>
<h1>消费与还款聚类画像 · Spending and repayment clusters</h1>
<p class="muted">Clustering {{ p.clustering_version }} · as of {{ p.as_of or "—" }} · {{ p.accounts }} accounts
 · k = {{ p.k }}{% if p.policy_version %} · policy {{ p.policy_version }}{% endif %}
 {% if p.model_version %} · model {{ p.model_version }}{% endif %} · generated {{ generated }}</p>
<p class="muted">Data-driven groups for comparison with the policy's segments; they do not steer decisions.
Clustered on: {{ p.clustered_on | join(", ") }}.</p>

<h2>聚类概览 · Clusters</h2>
<table><tr><th>id</th><th class="l">名称</th><th class="l">name</th><th>accounts</th><th>share</th><th></th>
{% if p.label %}<th>defaults</th><th>default rate</th><th></th>{% endif %}
{% if p.model_version %}<th>mean score</th><th>mean PD</th>{% endif %}
{% if p.policy_version %}<th class="l">nearest policy segment</th><th>agreeing</th><th class="l">median member's segment</th>{% endif %}</tr>
{% for c in clusters %}<tr><td>{{ c.code }}</td><td class="l">{{ c.name_zh }}</td><td class="l">{{ c.name_en }}</td>
<td>{{ c.accounts | n }}</td><td>{{ c.share }}</td><td>{{ c.share_bar | safe }}</td>
{% if p.label %}<td>{{ c.defaults | n }}</td><td>{{ c.default_rate }}</td><td>{{ c.rate_bar | safe }}</td>{% endif %}
{% if p.model_version %}<td>{{ c.score_mean }}</td><td>{{ c.pd_mean }}</td>{% endif %}
{% if p.policy_version %}<td class="l">{{ c.policy_segment }}</td><td>{{ c.policy_segment_share }}</td><td class="l">{{ c.profile_segment }}</td>{% endif %}</tr>{% endfor %}
<tr><th class="l">all</th><th></th><th></th><th>{{ overall.accounts | n }}</th><th>100.0 %</th><th></th>
{% if p.label %}<th>{{ overall.defaults | n }}</th><th>{{ overall.default_rate }}</th><th></th>{% endif %}
{% if p.model_version %}<th>{{ overall.score_mean }}</th><th>{{ overall.pd_mean }}</th>{% endif %}
{% if p.policy_version %}<th class="l" colspan="3">agreement with the policy: {{ agreement }}</th>{% endif %}</tr>
</table>

<h2>行为画像 · Behaviour profile (mean / median)</h2>
<table><tr><th>id</th>{% for f in features %}<th>{{ f }}</th>{% endfor %}</tr>
{% for c in clusters %}<tr><td>{{ c.code }}</td>{% for f in features %}<td>{{ c.cells[f] }}</td>{% endfor %}</tr>{% endfor %}
<tr><th class="l">all</th>{% for f in features %}<th>{{ overall.cells[f] }}</th>{% endfor %}</tr>
</table>
<p class="muted">Money in major units of the portfolio's currency; ratios as fractions; months out of the latest 6 cycles.</p>

{% if p.policy_version %}
<h2>与策略客群对照 · Clusters × policy segments</h2>
<table><tr><th>id</th>{% for s in p.policy_segments %}<th>{{ s }}</th>{% endfor %}</tr>
{% for c in clusters %}<tr><td>{{ c.code }}</td>{% for s in p.policy_segments %}<td>{{ c.segments[s] | n }}</td>{% endfor %}</tr>{% endfor %}
</table>
<p class="muted">Accounts per cluster (rows) and policy segment (columns, in the policy's order; first match wins).</p>
{% endif %}
</body></html>
"""
)

_WIDTH = 180


def _bar(value: float | None, top: float, css: str = "bar") -> str:
    width = 0 if not value or top <= 0 else round(_WIDTH * value / top)
    return (
        f'<svg width="{_WIDTH}" height="12" role="img"><rect class="{css}" x="0" y="1" '
        f'width="{width}" height="10"/></svg>'
    )


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f} %"


def _grouped(value: Any) -> Any:
    """Counts with thousands separators (``30,000``); anything else as it is."""
    return f"{value:,}" if isinstance(value, int) else value


def _cell(name: str, stats: dict[str, Any], units: dict[str, str]) -> str:
    def one(v: Any) -> str:
        if v is None:
            return "—"
        return format_major(int(v)) if units[name] == "minor units" else f"{v:.2f}"

    return f"{one(stats['mean'])} / {one(stats['median'])}"


def _rows(entry: dict[str, Any], units: dict[str, str]) -> dict[str, Any]:
    return {
        **entry,
        "cells": {f: _cell(f, s, units) for f, s in entry["features"].items()},
        "default_rate": _pct(entry.get("default_rate")),
        "pd_mean": _pct(entry.get("pd_mean"), 2),
        "score_mean": "—" if entry.get("score_mean") is None else f"{entry['score_mean']:.1f}",
        "policy_segment_share": _pct(entry.get("policy_segment_share")),
    }


def render_profile_report(profile: dict[str, Any]) -> str:
    units: dict[str, str] = profile["features"]
    top_share = max([c["share"] or 0.0 for c in profile["clusters"]] or [0.0])
    top_rate = max([c.get("default_rate") or 0.0 for c in profile["clusters"]] or [0.0])
    clusters = [
        {
            **_rows(c, units),
            "share": _pct(c["share"]),
            "share_bar": _bar(c["share"], top_share),
            "rate_bar": _bar(c.get("default_rate"), top_rate, "risk"),
        }
        for c in profile["clusters"]
    ]
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["n"] = _grouped
    return env.from_string(_TEMPLATE).render(
        p=profile,
        clusters=clusters,
        overall=_rows(profile["overall"], units),
        features=list(units),
        agreement=_pct(profile.get("agreement")),
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_profile_report(profile: dict[str, Any], out: Path) -> Path:
    """Write the page for ``profile`` to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_profile_report(profile), encoding="utf-8")
    return out
