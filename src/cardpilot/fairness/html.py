# ruff: noqa: E501  (the HTML template is easier to read unwrapped)
"""The fairness report as one self-contained HTML page: plain tables, inline CSS, no scripts,
no fonts or images fetched, so it opens offline and can be mailed or archived as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from cardpilot.fairness.groups import is_zh
from cardpilot.reports.charts import GREEN, RED, Field, bars
from cardpilot.reports.page import static_chart
from cardpilot.reports.style import FONT_STACK

__all__ = ["FONT_STACK", "TEXTS", "render_fairness_report", "write_fairness_report"]

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "公平性报告",
        "cycle": "评估周期",
        "as_of": "评估日",
        "policy": "策略版本",
        "model": "模型版本",
        "accounts": "账户数",
        "label": "结果标签",
        "incomplete": "该周期没有已完成的评估运行，数字可能不完整。",
        "group": "组别",
        "increases": "提额",
        "increase_share": "提额占比",
        "decreases": "降额",
        "decrease_share": "降额占比",
        "air_increase": "提额不利影响比",
        "air_decrease": "降额不利影响比",
        "default_rate": "违约率",
        "auc": "AUC",
        "flag": "标记",
        "flagged": "低于阈值",
        "small": "样本过小，不标记",
        "reference_increase": "提额参照组",
        "reference_decrease": "降额参照组",
        "calibration": "各等级违约率（分组校准）",
        "none_flagged": "没有组别的不利影响比低于阈值。",
        "flagged_list": "不利影响比低于阈值的组别",
        "portfolio": "全部账户",
        "no_auc": "无",
        "method": (
            "不利影响比＝该组有利结果比率 ÷ 最有利组的比率；提额的有利结果是提额，降额的有利结果是"
            "“未被降额”，即 (1 − 降额占比) ÷ 各组 (1 − 降额占比) 的最大值。低于 {threshold} 的组别"
            "被标记（五分之四规则）。账户数少于 {min_group} 的组别照常列出但不标记，也不作参照组。"
            "括号内为 {confidence} Wilson 置信区间。AUC 为该组中决策评分对结果标签的区分度。"
            "性别、婚姻状况和年龄段只用于本报告，从不进入评分或决策。"
        ),
    },
    "en": {
        "title": "Fairness report",
        "cycle": "Review cycle",
        "as_of": "As of",
        "policy": "Policy version",
        "model": "Model version",
        "accounts": "Accounts",
        "label": "Outcome label",
        "incomplete": "No run of this cycle finished; the figures may be incomplete.",
        "group": "Group",
        "increases": "Increases",
        "increase_share": "Increase share",
        "decreases": "Decreases",
        "decrease_share": "Decrease share",
        "air_increase": "AIR (increase)",
        "air_decrease": "AIR (decrease)",
        "default_rate": "Default rate",
        "auc": "AUC",
        "flag": "Flag",
        "flagged": "under threshold",
        "small": "small group, not flagged",
        "reference_increase": "increase reference",
        "reference_decrease": "decrease reference",
        "calibration": "Default rate by grade (calibration per group)",
        "none_flagged": "No group has an adverse impact ratio under the threshold.",
        "flagged_list": "Groups with an adverse impact ratio under the threshold",
        "portfolio": "All accounts",
        "no_auc": "n/a",
        "method": (
            "Adverse impact ratio (AIR) = the group's rate of the favourable outcome ÷ the most "
            "favoured group's rate. For increases the favourable outcome is the increase; for "
            "decreases it is not being decreased: (1 − decrease share) ÷ the highest "
            "(1 − decrease share) of the groups. Groups under {threshold} are flagged (the "
            "four-fifths rule). Groups with fewer than {min_group} accounts are listed but "
            "neither flagged nor used as the reference. Brackets: {confidence} Wilson intervals. "
            "AUC: how well the decision's score separates the outcome within the group. Sex, "
            "marital status and age band are read for this report only and never enter a score "
            "or a decision."
        ),
    },
}

_TEMPLATE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ t.title }} {{ r.cycle_id }}</title>
<style>
body{font-family:{{ fonts | safe }};margin:2rem;color:#222;max-width:1200px}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
h3{font-size:1rem;margin-top:1.2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
td,th{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:right;vertical-align:top}
td:first-child,th:first-child{text-align:left}
.muted{color:#777;font-size:.85rem}.ci{color:#777;font-size:.8rem}
.flag{color:#b71c1c;font-weight:bold}.small{color:#777}.warn{color:#b71c1c}
figure.chart{margin:.5rem 0;max-width:760px}
</style></head><body>
<h1>{{ t.title }} · {{ r.cycle_id }}</h1>
<p class="muted">{{ t.as_of }} {{ as_of }} · {{ t.accounts }} {{ r.accounts }} · {{ t.label }} {{ r.label }}<br>
{{ t.policy }} {{ r.policy_versions | join(", ") }} · {{ t.model }} {{ r.model_versions | join(", ") }}</p>
{% if not r.complete %}<p class="warn">{{ t.incomplete }}</p>{% endif %}
<p class="muted">{{ method }}</p>
{% if r.flagged %}<p class="flag">{{ t.flagged_list }}:
{% for f in r.flagged %}{{ f.name }} ({{ t[f.measure] }} {{ num(f.air) }}){% if not loop.last %}; {% endif %}{% endfor %}</p>
{% else %}<p>{{ t.none_flagged }}</p>{% endif %}
{% for a in r.attributes %}
<h2>{{ a.name }}</h2>
<figure class="chart">{{ charts[a.attribute] | safe }}</figure>
<table><tr><th>{{ t.group }}</th><th>{{ t.accounts }}</th><th>{{ t.increases }}</th><th>{{ t.increase_share }}</th>
<th>{{ t.decreases }}</th><th>{{ t.decrease_share }}</th><th>{{ t.air_increase }}</th><th>{{ t.air_decrease }}</th>
<th>{{ t.default_rate }}</th><th>{{ t.auc }}</th><th>{{ t.flag }}</th></tr>
{% for g in a.groups %}<tr{% if g.small %} class="small"{% endif %}>
<td>{{ g.name }}{% if g.group == a.reference_increase %} <span class="muted">· {{ t.reference_increase }}</span>{% endif %}{% if g.group == a.reference_decrease %} <span class="muted">· {{ t.reference_decrease }}</span>{% endif %}</td>
<td>{{ g.accounts }}</td><td>{{ g.increases }}</td><td>{{ pct(g.increase_share) }} <span class="ci">{{ ci(g.increase_share_ci) }}</span></td>
<td>{{ g.decreases }}</td><td>{{ pct(g.decrease_share) }} <span class="ci">{{ ci(g.decrease_share_ci) }}</span></td>
<td{% if "air_increase" in g.flags %} class="flag"{% endif %}>{{ num(g.air_increase) }}</td>
<td{% if "air_decrease" in g.flags %} class="flag"{% endif %}>{{ num(g.air_decrease) }}</td>
<td>{{ pct(g.default_rate) }}</td><td{% if g.auc_reason %} title="{{ g.auc_reason }}"{% endif %}>{{ num(g.auc, 3) if g.auc is not none else t.no_auc }}</td>
<td>{% if g.flagged %}<span class="flag">{{ t.flagged }}</span>{% elif g.small %}{{ t.small }}{% endif %}</td></tr>
{% endfor %}</table>
<h3>{{ t.calibration }}</h3>
<table><tr><th>{{ t.group }}</th>{% for grade in grades %}<th>{{ grade or "—" }}</th>{% endfor %}</tr>
{% for g in a.groups %}<tr{% if g.small %} class="small"{% endif %}><td>{{ g.name }}</td>
{% for grade in grades %}{% set c = cell(g, grade) %}<td>{% if c %}{{ pct(c.default_rate) }} <span class="ci">n={{ c.labelled }}</span>{% else %}—{% endif %}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endfor %}
<h2>{{ t.portfolio }}</h2>
<table><tr><th>{{ t.accounts }}</th><th>{{ t.increase_share }}</th><th>{{ t.decrease_share }}</th><th>{{ t.default_rate }}</th><th>{{ t.auc }}</th></tr>
<tr><td>{{ r.portfolio.accounts }}</td><td>{{ pct(r.portfolio.increase_share) }}</td><td>{{ pct(r.portfolio.decrease_share) }}</td>
<td>{{ pct(r.portfolio.default_rate) }}</td><td>{{ num(r.portfolio.auc, 3) if r.portfolio.auc is not none else t.no_auc }}</td></tr></table>
</body></html>
"""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _ci(interval: list[float] | None) -> str:
    return "" if interval is None else f"[{interval[0] * 100:.1f}–{interval[1] * 100:.1f}]"


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _cell(group: dict[str, Any], grade: str | None) -> dict[str, Any] | None:
    for row in group["default_rate_by_grade"]:
        if row["grade"] == grade:
            return dict(row)
    return None


def air_chart(attribute: dict[str, Any], texts: dict[str, str], threshold: float) -> str:
    """Each group's adverse impact ratios (increase and decrease) as bars against the flagging
    threshold, drawn as inline SVG (the page carries no script)."""
    measures = {texts["air_increase"]: GREEN, texts["air_decrease"]: RED}
    rows = [
        {"group": g["name"], "measure": label, "air": g[key]}
        for g in attribute["groups"]
        for label, key in zip(measures, ("air_increase", "air_decrease"), strict=True)
        if g[key] is not None
    ]
    spec = bars(
        rows,
        category=Field("group", texts["group"]),
        value=Field("air", "AIR", ".2f"),
        order=[g["name"] for g in attribute["groups"]],
        colour=Field("measure", ""),
        colours=measures,
        grouped=True,
        bar_height=16,
        rules=[(threshold, f"{threshold:g}")],
    )
    return static_chart(spec)


def render_fairness_report(report: dict[str, Any]) -> str:
    """The page of a report made by :func:`cardpilot.fairness.report.fairness_report`."""
    zh = is_zh(report["locale"])
    texts = TEXTS["zh" if zh else "en"]
    method = texts["method"].format(
        threshold=report["air_threshold"],
        min_group=report["min_group_accounts"],
        confidence=f"{report['confidence'] * 100:g} %",
    )
    grades = list(report["grades"])
    if any(
        row["grade"] is None
        for a in report["attributes"]
        for g in a["groups"]
        for row in g["default_rate_by_grade"]
    ):
        grades.append(None)
    as_of = report["as_of"]
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    return env.from_string(_TEMPLATE).render(
        r=report,
        t=texts,
        lang="zh-CN" if zh else "en",
        fonts=FONT_STACK,
        method=method,
        charts={
            a["attribute"]: air_chart(a, texts, report["air_threshold"])
            for a in report["attributes"]
        },
        grades=grades,
        as_of=", ".join(as_of) if isinstance(as_of, list) else as_of,
        pct=_pct,
        ci=_ci,
        num=_num,
        cell=_cell,
    )


def write_fairness_report(report: dict[str, Any], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_fairness_report(report), encoding="utf-8")
    return out
