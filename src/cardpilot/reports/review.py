# ruff: noqa: E501  (the HTML template is easier to read unwrapped)
"""The review report (issue #5 item 9): one self-contained HTML page per review cycle.

Grade distribution with the observed default rate (when outcome labels are in the store),
limit changes by grade and by segment, how often each reason was given, and the watch list
after large increases. Figures come from the stored decisions, so the report shows what was
decided and recorded, not a recomputation. Bars are inline SVG; the page needs no network.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import Environment, select_autoescape
from sqlalchemy import Engine

from cardpilot.domain.money import format_major
from cardpilot.policy.schema import Policy
from cardpilot.reports.style import BASE_CSS

_TEMPLATE = (
    """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>额度评估报告 Limit review {{ cycle_id }}</title>
<style>
"""
    + BASE_CSS
    + """.inc{fill:#2e7d32}.keep{fill:#9e9e9e}.dec{fill:#c62828}.warn{color:#c62828}
</style></head><body>
<h1>额度定期评估报告 · Periodic limit review {{ cycle_id }}</h1>
<p class="muted">As of {{ as_of }} · policy {{ policy_version }} · model {{ model_version }}
 · {{ total }} decisions · generated {{ generated }}</p>
<table><tr><th>action</th><th>accounts</th><th>share</th></tr>
{% for a in actions %}<tr><td>{{ a.action }}</td><td>{{ a.n }}</td><td>{{ a.share }}</td></tr>{% endfor %}
</table>

<h2>等级分布与实际违约率 · Grades and observed default rate</h2>
{% if label %}<p class="muted">Observed outcome: label <code>{{ label }}</code>
 {% if monotonic %}— default rate rises from best to worst grade ✓{% else %}
 — <span class="warn">default rate is not monotonic: move the cut-offs</span>{% endif %}</p>{% endif %}
<table><tr><th>grade</th><th>等级</th><th>accounts</th><th>share</th><th></th>
<th>defaults</th><th>default rate</th><th>mean PD</th><th>score range</th></tr>
{% for g in grades %}<tr><td>{{ g.grade }}</td><td class="l">{{ g.label_zh }}</td><td>{{ g.accounts }}</td>
<td>{{ g.share }}</td><td>{{ g.bar | safe }}</td><td>{{ g.defaults }}</td><td>{{ g.default_rate }}</td>
<td>{{ g.mean_pd }}</td><td>{{ g.score_range }}</td></tr>{% endfor %}
</table>

<h2>额度调整（按等级）· Limit changes by grade</h2>
{{ by_grade | safe }}
<h2>额度调整（按客群）· Limit changes by segment</h2>
{{ by_segment | safe }}

<h2>原因频次 · Reason frequencies</h2>
<table><tr><th>code</th><th>decisions</th><th></th><th class="l">中文</th><th class="l">English</th></tr>
{% for r in reasons %}<tr><td>{{ r.code }}</td><td>{{ r.n }}</td><td>{{ r.bar | safe }}</td>
<td class="l">{{ r.zh }}</td><td class="l">{{ r.en }}</td></tr>{% endfor %}
</table>

<h2>提额后观察名单 · Watch list after large increases</h2>
<p class="muted">{{ watch_total }} accounts watched, {{ watch_flagged }} with flags
{% if watch_rows|length < watch_total %}(showing {{ watch_rows|length }}){% endif %}.</p>
<table><tr><th>account</th><th>grade</th><th>segment</th><th>from</th><th>to</th>
<th>old limit</th><th>new limit</th><th>flags</th><th class="l">reasons</th></tr>
{% for w in watch_rows %}<tr><td>{{ w.account_id }}</td><td>{{ w.grade }}</td><td>{{ w.segment }}</td>
<td>{{ w.started_on }}</td><td>{{ w.ends_on }}</td><td>{{ w.old_limit }}</td><td>{{ w.new_limit }}</td>
<td>{{ w.flags }}</td><td class="l">{{ w.reasons }}</td></tr>{% endfor %}
</table>
</body></html>
"""
)

_WIDTH = 220


def _bar(value: float, top: float) -> str:
    width = 0 if top <= 0 else round(_WIDTH * value / top)
    return (
        f'<svg width="{_WIDTH}" height="12" role="img"><rect class="bar" x="0" y="1" '
        f'width="{width}" height="10"/></svg>'
    )


def _stacked(inc: int, keep: int, dec: int) -> str:
    total = max(inc + keep + dec, 1)
    parts, x = [], 0
    for cls, n in (("inc", inc), ("keep", keep), ("dec", dec)):
        w = round(_WIDTH * n / total)
        parts.append(f'<rect class="{cls}" x="{x}" y="1" width="{w}" height="10"/>')
        x += w
    return f'<svg width="{_WIDTH}" height="12" role="img">{"".join(parts)}</svg>'


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f} %"


def _changes_table(decisions: pl.DataFrame, by: str) -> str:
    stats = (
        decisions.group_by(by)
        .agg(
            pl.len().alias("n"),
            (pl.col("action") == "increase").sum().alias("inc"),
            (pl.col("action") == "keep").sum().alias("keep"),
            (pl.col("action") == "decrease").sum().alias("dec"),
            pl.col("old_limit_minor").sum().alias("old"),
            pl.col("new_limit_minor").sum().alias("new"),
            pl.col("increase_pct_bp").mean().alias("mean_inc_bp"),
        )
        .sort(by, nulls_last=True)
    )
    rows = [
        f"<tr><th>{by}</th><th>accounts</th><th>increase</th><th>keep</th><th>decrease</th>"
        "<th>increase / keep / decrease</th><th>mean increase</th><th>limits before</th>"
        "<th>limits after</th><th>change</th></tr>"
    ]
    for r in stats.iter_rows(named=True):
        change = (r["new"] - r["old"]) / r["old"] if r["old"] else None
        mean_inc = "—" if r["mean_inc_bp"] is None else f"{r['mean_inc_bp'] / 100:.1f} %"
        rows.append(
            f"<tr><td>{r[by] or '—'}</td><td>{r['n']}</td><td>{r['inc']}</td><td>{r['keep']}</td>"
            f"<td>{r['dec']}</td><td>{_stacked(r['inc'], r['keep'], r['dec'])}</td>"
            f"<td>{mean_inc}</td><td>{format_major(r['old'])}</td><td>{format_major(r['new'])}</td>"
            f"<td>{_pct(change)}</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _labels(db: Engine, label: str | None) -> tuple[str | None, pl.DataFrame]:
    from cardpilot.store.frame_reads import query_frame

    with db.connect() as conn:
        names = query_frame(
            conn,
            "SELECT DISTINCT label FROM performance_labels ORDER BY label",
            {},
            {"label": pl.String()},
        )["label"].to_list()
        chosen = label if label in names else (names[0] if names else None)
        if chosen is None:
            return None, pl.DataFrame(schema={"account_id": pl.String(), "label": pl.Int64()})
        frame = query_frame(
            conn,
            "SELECT account_id, CAST(value AS INTEGER) FROM performance_labels WHERE label = :l",
            {"l": chosen},
            {"account_id": pl.String(), "label": pl.Int64()},
        )
    return chosen, frame


def review_report_context(
    db: Engine, cycle_id: str, policy: Policy, *, label: str | None = "default_next_month"
) -> dict[str, Any]:
    """The figures of the report, as plain values (the HTML is rendered from this)."""
    from cardpilot.policy.grades import default_rate_is_monotonic, grade_report
    from cardpilot.store.limit_decisions import read_decisions
    from cardpilot.watch.checks import watch_list

    decisions = read_decisions(db, cycle_id)
    total = decisions.height
    chosen, labels = _labels(db, label)
    scored = decisions.select("account_id", "score", "pd").join(labels, on="account_id", how="left")
    if chosen is None:
        scored = scored.with_columns(pl.lit(0).alias("label"))
    report = grade_report(scored, policy, label="label")
    top_share = max([s for s in report["share"].to_list() if s is not None] or [0.0])
    grades = [
        {
            "grade": r["grade"],
            "label_zh": r["label_zh"],
            "accounts": r["accounts"],
            "share": _pct(r["share"]),
            "bar": _bar(r["share"] or 0.0, top_share),
            "defaults": r["defaults"] if chosen else "—",
            "default_rate": _pct(r["default_rate"]) if chosen else "—",
            "mean_pd": _pct(r["mean_pd"], 2),
            "score_range": (
                "—" if r["score_min"] is None else f"{r['score_min']}–{r['score_max']}"
            ),
        }
        for r in report.iter_rows(named=True)
    ]
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
    top = int(freq["n"].max() or 0) if freq.height else 0  # type: ignore[arg-type]
    reasons = [
        {
            "code": r["reason_codes"],
            "n": r["n"],
            "bar": _bar(r["n"], float(top)),
            "zh": texts[r["reason_codes"]].zh_cn
            if r["reason_codes"] in texts
            else r["reason_texts_zh"],
            "en": texts[r["reason_codes"]].en
            if r["reason_codes"] in texts
            else r["reason_texts_en"],
        }
        for r in freq.iter_rows(named=True)
    ]
    watches = watch_list(db, policy)
    watch_rows = [
        {
            "account_id": w["account_id"],
            "grade": w["grade"],
            "segment": w["segment"],
            "started_on": w["started_on"],
            "ends_on": w["ends_on"],
            "old_limit": format_major(w["old_limit_minor"]),
            "new_limit": format_major(w["new_limit_minor"]),
            "flags": w["flags"],
            "reasons": "；".join(w["reason_texts"] or []),
        }
        for w in watches.head(200).iter_rows(named=True)
    ]
    actions = [
        {"action": a, "n": n, "share": _pct(n / total if total else None)}
        for a, n in sorted(decisions.group_by("action").len().iter_rows(), key=lambda x: str(x[0]))
    ]
    first = decisions.row(0, named=True) if total else {}
    return {
        "cycle_id": cycle_id,
        "as_of": first.get("as_of"),
        "policy_version": first.get("policy_version", policy.version),
        "model_version": first.get("model_version"),
        "total": total,
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "actions": actions,
        "label": chosen,
        "monotonic": default_rate_is_monotonic(report) if chosen else None,
        "grades": grades,
        "by_grade": _changes_table(decisions, "grade"),
        "by_segment": _changes_table(decisions, "segment"),
        "reasons": reasons,
        "watch_total": watches.height,
        "watch_flagged": int((watches["flags"] > 0).sum()) if watches.height else 0,
        "watch_rows": watch_rows,
    }


def write_review_report(
    db: Engine,
    cycle_id: str,
    policy: Policy,
    out: Path,
    *,
    label: str | None = "default_next_month",
) -> Path:
    """Render the report of ``cycle_id`` to ``out`` (one self-contained HTML file)."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    html = env.from_string(_TEMPLATE).render(
        **review_report_context(db, cycle_id, policy, label=label)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
