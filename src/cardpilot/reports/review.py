"""The review report: one self-contained HTML page per review cycle.

Grade distribution with the observed default rate (when outcome labels are in the store),
limit changes by grade and by segment, how often each reason was given, and the watch list
after large increases. Figures come from the stored decisions, so the report shows what was
decided and recorded, not a recomputation. Grades and segments appear in the policy's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine

from cardpilot.policy.grades import default_rate_is_monotonic, grade_report
from cardpilot.policy.schema import Policy
from cardpilot.reports.charts import (
    ACTION_COLOURS,
    AMBER,
    BLUE,
    COUNT,
    SHARE,
    Field,
    bars,
    in_order,
    stacked_shares,
)
from cardpilot.reports.formatting import ReportFormat, configured_locale, report_locale
from cardpilot.reports.page import render_page, write_page
from cardpilot.store.review_report_reads import (
    cycle_decisions_frame,
    cycle_header,
    most_flagged_watches,
    outcome_label_names,
    outcome_labels,
    watch_counts,
)

ACTIONS = ("increase", "keep", "decrease")
WATCH_ROWS = 200


def _labels(db: Engine, label: str | None) -> tuple[str | None, pl.DataFrame]:
    names = outcome_label_names(db)
    chosen = label if label in names else (names[0] if names else None)
    if chosen is None:
        return None, pl.DataFrame(schema={"account_id": pl.String(), "label": pl.Int64()})
    return chosen, outcome_labels(db, chosen)


def _grades(
    decisions: pl.DataFrame, labels: pl.DataFrame, chosen: str | None, policy: Policy
) -> pl.DataFrame:
    scored = decisions.select("account_id", "score", "pd").join(labels, on="account_id", how="left")
    if chosen is None:
        scored = scored.with_columns(pl.lit(0).alias("label"))
    return grade_report(scored, policy, label="label")


def _grade_rows(
    report: pl.DataFrame, chosen: str | None, fmt: ReportFormat
) -> list[dict[str, Any]]:
    return [
        {
            "grade": r["grade"],
            "label_zh": r["label_zh"],
            "accounts": fmt.count(r["accounts"]),
            "share": fmt.percent(r["share"]),
            "defaults": fmt.count(r["defaults"]) if chosen else "—",
            "default_rate": fmt.percent(r["default_rate"]) if chosen else "—",
            "mean_pd": fmt.percent(r["mean_pd"], 2),
            "score_range": (
                "—" if r["score_min"] is None else f"{r['score_min']}–{r['score_max']}"
            ),
        }
        for r in report.iter_rows(named=True)
    ]


def _grade_charts(report: pl.DataFrame, chosen: str | None) -> dict[str, dict[str, Any]]:
    rows = report.iter_rows(named=True)
    data = [
        {
            "grade": r["grade"],
            "label": f"{r['grade']} · {r['label_zh']}",
            "accounts": r["accounts"],
            "share": r["share"] or 0.0,
        }
        for r in rows
    ]
    labels = [f"{g} · {z}" for g, z in zip(report["grade"], report["label_zh"], strict=True)]
    charts = {
        "grade-accounts": bars(
            data,
            category=Field("label", "grade · 等级"),
            value=Field("accounts", "accounts · 账户数", COUNT),
            order=labels,
            details=[Field("share", "share · 占比", SHARE)],
        )
    }
    rates = []
    for r in report.iter_rows(named=True):
        label = f"{r['grade']} · {r['label_zh']}"
        rates.append({"label": label, "measure": "mean PD · 预测违约率", "rate": r["mean_pd"]})
        if chosen:
            rates.append(
                {"label": label, "measure": "observed · 实际违约率", "rate": r["default_rate"]}
            )
    measures = {"mean PD · 预测违约率": BLUE}
    if chosen:
        measures["observed · 实际违约率"] = AMBER
    charts["grade-rates"] = bars(
        rates,
        category=Field("label", "grade · 等级"),
        value=Field("rate", "default rate · 违约率", ".1%"),
        order=labels,
        colour=Field("measure", "rate"),
        colours=measures,
        grouped=True,
    )
    return charts


def limit_changes_by(
    decisions: pl.DataFrame, by: str, order: Sequence[str]
) -> list[dict[str, Any]]:
    """Decisions counted by action, limits summed and the mean increase, per value of ``by``
    (``grade`` or ``segment``) in ``order`` (the policy's), decisions without one last."""
    stats = decisions.group_by(by).agg(
        pl.len().alias("n"),
        (pl.col("action") == "increase").sum().alias("increase"),
        (pl.col("action") == "keep").sum().alias("keep"),
        (pl.col("action") == "decrease").sum().alias("decrease"),
        pl.col("old_limit_minor").sum().alias("old"),
        pl.col("new_limit_minor").sum().alias("new"),
        pl.col("increase_pct_bp").mean().alias("mean_inc_bp"),
    )
    by_key = {r[by]: r for r in stats.iter_rows(named=True)}
    present = [k for k in by_key if k is not None]
    keys: list[str | None] = list(in_order(present, order))
    if None in by_key:
        keys.append(None)
    return [by_key[k] for k in keys]


def _changes_table(stats: list[dict[str, Any]], by: str, fmt: ReportFormat) -> list[dict[str, Any]]:
    rows = []
    for r in stats:
        change = (r["new"] - r["old"]) / r["old"] if r["old"] else None
        rows.append(
            {
                "key": r[by] or "—",
                "accounts": fmt.count(r["n"]),
                "increase": fmt.count(r["increase"]),
                "keep": fmt.count(r["keep"]),
                "decrease": fmt.count(r["decrease"]),
                "mean_increase": "—"
                if r["mean_inc_bp"] is None
                else fmt.percent(r["mean_inc_bp"] / 10_000),
                "before": fmt.money(r["old"]),
                "after": fmt.money(r["new"]),
                "change": fmt.percent(change),
            }
        )
    return rows


def _changes_chart(stats: list[dict[str, Any]], by: str, title: str) -> dict[str, Any]:
    keys = [r[by] or "—" for r in stats]
    data = [
        {"key": r[by] or "—", "action": action, "accounts": r[action]}
        for r in stats
        for action in ACTIONS
    ]
    return stacked_shares(
        data,
        category=Field("key", title),
        part=Field("action", "action · 调整"),
        value=Field("accounts", "accounts · 账户数", COUNT),
        order=keys,
        parts=ACTION_COLOURS,
    )


def _reasons(decisions: pl.DataFrame, policy: Policy) -> list[dict[str, Any]]:
    texts = policy.reasons.reasons
    pairs = decisions.select("reason_codes", "reason_texts_zh", "reason_texts_en").explode(
        ["reason_codes", "reason_texts_zh", "reason_texts_en"]
    )
    freq = (
        pairs.group_by("reason_codes")
        .agg(
            pl.len().alias("n"),
            pl.col("reason_texts_zh").first(),
            pl.col("reason_texts_en").first(),
        )
        .drop_nulls("reason_codes")
        .sort(["n", "reason_codes"], descending=[True, False])
    )
    return [
        {
            "code": r["reason_codes"],
            "n": r["n"],
            "zh": texts[r["reason_codes"]].zh_cn
            if r["reason_codes"] in texts
            else r["reason_texts_zh"],
            "en": texts[r["reason_codes"]].en
            if r["reason_codes"] in texts
            else r["reason_texts_en"],
        }
        for r in freq.iter_rows(named=True)
    ]


def _watch(db: Engine, policy: Policy, fmt: ReportFormat) -> dict[str, Any]:
    total, flagged = watch_counts(db)
    texts = {code: t.text("zh-CN") for code, t in policy.reasons.reasons.items()}
    rows = [
        {
            "account_id": w.account_id,
            "grade": w.grade,
            "segment": w.segment,
            "started_on": fmt.date(w.started_on),
            "ends_on": fmt.date(w.ends_on),
            "old_limit": fmt.money(w.old_limit_minor),
            "new_limit": fmt.money(w.new_limit_minor),
            "flags": w.flags,
            "reasons": "；".join(dict.fromkeys(texts.get(c, c) for c in w.reason_codes)),
        }
        for w in most_flagged_watches(db, WATCH_ROWS)
    ]
    return {"watch_total": total, "watch_flagged": flagged, "watch_rows": rows}


def review_report_context(
    db: Engine,
    cycle_id: str,
    policy: Policy,
    *,
    label: str | None = "default_next_month",
    fmt: ReportFormat | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The figures of the report as the page shows them, and its charts (Vega-Lite specs)."""
    fmt = fmt or ReportFormat(currency=policy.limits.currency)
    decisions = cycle_decisions_frame(db, cycle_id)
    total = decisions.height
    chosen, labels = _labels(db, label)
    report = _grades(decisions, labels, chosen, policy)
    grade_order = [g.code for g in policy.limits.grades]
    segment_order = [s.code for s in policy.limits.segments]
    by_grade = limit_changes_by(decisions, "grade", grade_order)
    by_segment = limit_changes_by(decisions, "segment", segment_order)
    reasons = _reasons(decisions, policy)
    counts = dict(decisions.group_by("action").len().iter_rows())
    header = cycle_header(db, cycle_id)
    charts = {
        **_grade_charts(report, chosen),
        "changes-by-grade": _changes_chart(by_grade, "grade", "grade · 等级"),
        "changes-by-segment": _changes_chart(by_segment, "segment", "segment · 客群"),
    }
    if reasons:
        charts["reasons"] = bars(
            [{**r, "label": r["code"]} for r in reasons],
            category=Field("label", "reason · 原因"),
            value=Field("n", "decisions · 决定数", COUNT),
            order=[r["code"] for r in reasons],
            details=[Field("zh", "中文"), Field("en", "English")],
            bar_height=20,
        )
    context = {
        "cycle_id": cycle_id,
        "as_of": fmt.date(header.as_of if header else None),
        "policy_version": header.policy_version if header else policy.version,
        "model_version": header.model_version if header else None,
        "total": fmt.count(total),
        "actions": [
            {"action": a, "n": fmt.count(counts[a]), "share": fmt.percent(counts[a] / total)}
            for a in in_order(list(counts), ACTIONS)
        ],
        "label": chosen,
        "monotonic": default_rate_is_monotonic(report) if chosen else None,
        "grades": _grade_rows(report, chosen, fmt),
        "by_grade": _changes_table(by_grade, "grade", fmt),
        "by_segment": _changes_table(by_segment, "segment", fmt),
        "reasons": [{**r, "n": fmt.count(r["n"])} for r in reasons],
        **_watch(db, policy, fmt),
    }
    return context, charts


def write_review_report(
    db: Engine,
    cycle_id: str,
    policy: Policy,
    out: Path,
    *,
    label: str | None = "default_next_month",
    locale: str | None = None,
) -> Path:
    """Render the report of ``cycle_id`` to ``out`` (one self-contained HTML file), its money
    and figures written for ``locale`` (zh-CN by default, en)."""
    fmt = ReportFormat(report_locale(locale or configured_locale()), policy.limits.currency)
    context, charts = review_report_context(db, cycle_id, policy, label=label, fmt=fmt)
    return write_page(render_page("review.html.j2", context, charts, fmt), out)
