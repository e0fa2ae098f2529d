"""The simulation report: one self-contained HTML page (charts drawn offline) comparing two
limit policies' exposure, expected loss, revenue, cost and net.

Rendered from the JSON of ``cardpilot simulate --json`` (``SimulationResult.as_json``), so the
page and the JSON never disagree.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from cardpilot.reports.charts import BLUE, COUNT, GREY, MONEY, RED, Field, bars, waterfall
from cardpilot.reports.formatting import ReportFormat, configured_locale, report_locale
from cardpilot.reports.page import render_page, write_page

COLUMNS = (
    ("accounts", "accounts · 账户"),
    ("changed", "changed · 调整"),
    ("limit_added", "limit added · 增加额度"),
    ("limit_removed", "limit removed · 减少额度"),
    ("exposure", "exposure (EAD) · 风险敞口"),
    ("expected_loss", "expected loss · 预期损失"),
    ("revenue", "revenue · 收入"),
    ("cost", "cost · 成本"),
    ("net", "net · 净收益"),
)
COMPONENTS = (
    ("interest", "interest · 利息", +1),
    ("fees", "fees · 费用", +1),
    ("interchange", "interchange · 交换费", +1),
    ("funding", "funding · 资金成本", -1),
    ("messages", "messages · 通知", -1),
    ("waivers", "waivers · 减免", -1),
    ("collections", "collections · 催收", -1),
    ("expected_loss", "expected loss · 预期损失", -1),
)
COUNTS = ("accounts", "changed", "increased", "decreased")


def _major(text: str) -> float:
    return float(Decimal(text))


def _minor(text: str) -> int:
    return int(Decimal(text).scaleb(2))


def _cells(figures: dict[str, Any], fmt: ReportFormat) -> dict[str, str]:
    return {
        k: fmt.count(v) if k in COUNTS else fmt.money(_minor(v))
        for k, v in figures.items()
        if k in dict(COLUMNS) or k in {c for c, _, _ in COMPONENTS}
    }


def _table(parts: dict[str, Any], column: str, fmt: ReportFormat) -> list[dict[str, Any]]:
    return [{"key": r[column], **_cells(r, fmt)} for r in parts[f"by_{column}"]]


def simulation_charts(p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The waterfall of the net change (``policy − against``) by component, and per-grade bars
    of both policies' net and expected loss."""
    policy, against = p["policies"]
    delta = p["difference"]["total"]
    money = Field("amount", f"{p['currency']} · 金额", MONEY)
    charts = {
        "net-waterfall": waterfall(
            [(title, sign * _major(delta[key])) for key, title, sign in COMPONENTS],
            "net change · 净收益变动",
            value=money,
        )
    }
    grades = [r["grade"] for r in policy["by_grade"]]
    grades += [r["grade"] for r in against["by_grade"] if r["grade"] not in grades]
    names = {policy["name"]: BLUE, against["name"]: GREY}
    for figure, title in (("net", "net · 净收益"), ("expected_loss", "expected loss · 预期损失")):
        rows = [
            {"grade": r["grade"], "policy": f["name"], "amount": _major(r[figure])}
            for f in (policy, against)
            for r in f["by_grade"]
        ]
        charts[f"grade-{figure}"] = bars(
            rows,
            category=Field("grade", "grade · 等级"),
            value=Field("amount", f"{title} ({p['currency']})", MONEY),
            order=grades,
            colour=Field("policy", "policy · 策略"),
            colours=names,
            grouped=True,
        )
    backtest = p.get("backtest")
    if backtest and backtest["grades"]:
        rows = [
            {"grade": r["grade"], "series": series, "defaults": float(r[key])}
            for r in backtest["grades"]
            if r["grade"] != "all"
            for series, key in (
                ("observed", "observed_defaults"),
                ("predicted", "predicted_defaults"),
            )
        ]
        charts["backtest"] = bars(
            rows,
            category=Field("grade", "grade · 等级"),
            value=Field("defaults", "defaults · 违约户数", COUNT),
            order=[r["grade"] for r in backtest["grades"] if r["grade"] != "all"],
            colour=Field("series", "series"),
            colours={"observed": RED, "predicted": BLUE},
            grouped=True,
        )
    return charts


def _backtest_rows(backtest: dict[str, Any], fmt: ReportFormat) -> list[dict[str, Any]]:
    out = []
    for r in backtest["grades"]:
        low, high = r["defaults_interval"]
        loss_low, loss_high = r["loss_interval_minor"]
        out.append(
            {
                "grade": r["grade"],
                "accounts": fmt.count(r["accounts"]),
                "observed": fmt.count(r["observed_defaults"]),
                "observed_rate": fmt.percent(r["observed_rate"]),
                "predicted": fmt.number(r["predicted_defaults"], 1),
                "interval": f"{fmt.number(low, 1)} – {fmt.number(high, 1)}",
                "within": r["defaults_within"],
                "miss": fmt.number(r["defaults_miss"], 1),
                "predicted_loss": fmt.money(r["predicted_loss_minor"]),
                "observed_loss": fmt.money(r["observed_loss_minor"]),
                "loss_interval": f"{fmt.money(loss_low)} – {fmt.money(loss_high)}",
                "loss_within": r["loss_within"],
            }
        )
    return out


def render_simulation_report(p: dict[str, Any], *, locale: str | None = None) -> str:
    """The page for the simulation ``p`` (its JSON), figures written for ``locale``."""
    fmt = ReportFormat(report_locale(locale or configured_locale()), p["currency"])
    policy, against = p["policies"]
    tables = {
        column: [(f["name"], _table(f, column, fmt)) for f in (policy, against)]
        + [("difference · 差额", _table(p["difference"], column, fmt))]
        for column in ("grade", "segment")
    }
    context = {
        "p": p,
        "policy": policy,
        "against": against,
        "columns": COLUMNS,
        "components": COMPONENTS,
        "totals": [
            (f["name"], f.get("policy_version") or "", _cells(f["total"], fmt))
            for f in (policy, against)
        ],
        "difference": _cells(p["difference"]["total"], fmt),
        "tables": tables,
        "backtest": p.get("backtest"),
        "backtest_rows": _backtest_rows(p["backtest"], fmt) if p.get("backtest") else [],
    }
    return render_page("simulation.html.j2", context, simulation_charts(p), fmt)


def write_simulation_report(p: dict[str, Any], out: Path, *, locale: str | None = None) -> Path:
    """Write the page for the simulation ``p`` (its JSON) to ``out``."""
    return write_page(render_simulation_report(p, locale=locale), out)
