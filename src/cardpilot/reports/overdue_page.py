"""The overdue report's page: its figures written for the reader's locale, and its charts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cardpilot.overdue.schema import OverduePolicy
from cardpilot.reports.charts import (
    AMBER,
    BLUE,
    COUNT,
    GREEN,
    GREY,
    MONEY,
    PURPLE,
    RED,
    SHARE,
    Field,
    bars,
    heatmap,
    in_order,
    stacked_shares,
)
from cardpilot.reports.formatting import ReportFormat
from cardpilot.reports.overdue_fees import FeeTotals

EXITED = "exited"
LIMIT_ACTIONS = {"limit_none": GREY, "limit_freeze": AMBER, "limit_cut": RED}
PLAN_STATUS_COLOURS = {
    "offered": "#90caf9",
    "accepted": BLUE,
    "active": PURPLE,
    "kept": GREEN,
    "broken": RED,
    "declined": GREY,
}


def _segment_order(policy: OverduePolicy, present: list[str]) -> list[str]:
    return in_order(present, [s.code for s in policy.file.segments])


def _fee_rows(fees: FeeTotals, policy: OverduePolicy, fmt: ReportFormat) -> dict[str, Any]:
    money = {
        key: fmt.money(getattr(fees, key))
        for key in (
            "penalty_interest_minor",
            "late_fee_minor",
            "charged_minor",
            "treatment_waived_minor",
            "plan_penalty_fees_minor",
            "plan_waived_kept_minor",
            "plan_waived_active_minor",
            "plan_reinstated_minor",
            "waived_minor",
        )
    }
    by_segment = [
        {
            "segment": seg,
            "charged": fmt.money(fees.by_segment[seg]["charged_minor"]),
            "waived": fmt.money(fees.by_segment[seg]["waived_minor"]),
        }
        for seg in _segment_order(policy, list(fees.by_segment))
    ]
    return {
        **{k.removesuffix("_minor"): v for k, v in money.items()},
        "treatments": fmt.count(fees.treatments),
        "plans": fmt.count(fees.plans),
        "by_segment": by_segment,
    }


def _roll_rows(rolls: dict[str, Any] | None, fmt: ReportFormat) -> list[Any]:
    if not rolls:
        return []
    cures = {c["from"]: c for c in rolls["cures"]}
    rows = []
    for f in rolls["forward"]:
        c = cures.get(f["to"])
        forward = {
            **f,
            "accounts": fmt.count(f["accounts"]),
            "from_accounts": fmt.count(f["from_accounts"]),
            "rate_pct": fmt.percent(f["rate"], 2),
            "balance_rate_pct": fmt.percent(f["balance_rate"], 2),
        }
        cure = None
        if c is not None:
            cure = {
                **c,
                "accounts": fmt.count(c["accounts"]),
                "from_accounts": fmt.count(c["from_accounts"]),
                "rate_pct": fmt.percent(c["rate"], 2),
            }
        rows.append((forward, cure))
    return rows


def _penalty_rate(rates: str, fmt: ReportFormat) -> str:
    return " / ".join(fmt.percent(Decimal(r), 3) for r in rates.split("–"))


def overdue_page_context(
    figures: dict[str, Any], policy: OverduePolicy, fmt: ReportFormat, statuses: tuple[str, ...]
) -> dict[str, Any]:
    """What the page shows: the figures as text in ``fmt``'s locale and currency."""
    buckets = [
        {
            "bucket": b["bucket"],
            "accounts": fmt.count(b["accounts"]),
            "share": fmt.percent(b["share"], 2),
            "balance": fmt.money(b["balance_minor"]),
            "overdue_balance": fmt.money(b["overdue_balance_minor"]),
        }
        for b in figures["buckets"]
    ]
    segments = [
        {
            **s,
            **{k: fmt.count(s[k]) for k in ("accounts", "limit_none", "limit_freeze", "limit_cut")},
            "waiver_share": fmt.percent(s["waiver_share_bp"] / 10_000, 0),
            "penalty_rate": _penalty_rate(s["penalty_rate_daily"], fmt),
            "mean_pd": fmt.percent(s["mean_pd"], 2) if s["mean_pd"] else "—",
            "overdue_balance": fmt.money(s["overdue_balance_minor"]),
        }
        for s in figures["segments"]
    ]
    plans = figures["plans"]
    plan_rows = [
        {
            **{k: (fmt.count(v) if isinstance(v, int) else v) for k, v in p.items()},
            "principal": fmt.money(p["principal_minor"]),
            "kept_pct": fmt.percent(p["kept_rate"]),
            "broken_pct": fmt.percent(p["broken_rate"]),
        }
        for p in [*plans["by_kind"], plans["total"]]
    ]
    return {
        "as_of": figures["as_of"],
        "snapshot_date": figures["snapshot_date"],
        "policy_version": figures["policy_version"],
        "currency": figures["currency"],
        "buckets": buckets,
        "rolls": figures["roll_rates"],
        "roll_rows": _roll_rows(figures["roll_rates"], fmt),
        "roll_pairs": len(figures["roll_history"]),
        "segments": segments,
        "plan_rows": plan_rows,
        "statuses": statuses,
        "fees": _fee_rows(figures["fees"], policy, fmt),
    }


def _roll_matrix(figures: dict[str, Any], codes: list[str]) -> dict[str, Any]:
    rows = [
        {
            "pair": f"{pair['from']} → {pair['to']}",
            "from": t["from"],
            "to": t["to"],
            "rate": float(t["rate"]),
            "accounts": t["accounts"],
            "from_accounts": t["from_accounts"],
        }
        for pair in figures["roll_history"]
        for t in pair["transitions"]
    ]
    present = {r["from"] for r in rows} | {r["to"] for r in rows}
    to_codes = in_order([c for c in present if c != EXITED], codes)
    to_codes += [EXITED] if EXITED in present else []
    return heatmap(
        rows,
        x=Field("to", "to bucket · 迁入"),
        y=Field("from", "from bucket · 迁出"),
        value=Field("rate", "share of the from-bucket", ".1~%"),
        x_order=to_codes,
        y_order=in_order([c for c in present if c != EXITED], codes),
        details=[
            Field("accounts", "accounts moved", COUNT),
            Field("from_accounts", "accounts in the from-bucket", COUNT),
        ],
        facet=Field("pair", ""),
        domain=(0.0, 1.0),
        cell=38,
    )


def overdue_charts(
    figures: dict[str, Any], policy: OverduePolicy, fmt: ReportFormat
) -> dict[str, dict[str, Any]]:
    """The page's charts (Vega-Lite specs) by figure id."""
    codes = list(policy.file.aging.scale().codes)
    charts: dict[str, dict[str, Any]] = {}
    if figures["buckets"]:
        charts["buckets"] = bars(
            [
                {
                    **b,
                    "share": float(b["share"] or 0),
                    "balance": float(fmt.major(b["balance_minor"])),
                    "overdue_balance": float(fmt.major(b["overdue_balance_minor"])),
                }
                for b in figures["buckets"]
            ],
            category=Field("bucket", "bucket · 账龄"),
            value=Field("accounts", "accounts · 账户数", COUNT),
            order=[b["bucket"] for b in figures["buckets"]],
            details=[
                Field("share", "share · 占比", SHARE),
                Field("balance", "balance · 余额", MONEY),
                Field("overdue_balance", "overdue balance · 逾期余额", MONEY),
            ],
        )
    if figures["roll_history"]:
        charts["roll-matrix"] = _roll_matrix(figures, codes)
    segments = figures["segments"]
    if segments:
        charts["segment-actions"] = stacked_shares(
            [
                {"segment": s["segment"], "action": action.removeprefix("limit_"), "n": s[action]}
                for s in segments
                for action in LIMIT_ACTIONS
            ],
            category=Field("segment", "risk segment · 风险分群"),
            part=Field("action", "limit action · 额度措施"),
            value=Field("n", "accounts · 账户数", COUNT),
            order=[s["segment"] for s in segments],
            parts={k.removeprefix("limit_"): v for k, v in LIMIT_ACTIONS.items()},
        )
    kinds = figures["plans"]["by_kind"]
    if kinds:
        charts["plans"] = stacked_shares(
            [
                {"kind": p["kind"], "status": status, "n": p[status]}
                for p in kinds
                for status in PLAN_STATUS_COLOURS
            ],
            category=Field("kind", "plan kind · 方案"),
            part=Field("status", "status · 状态"),
            value=Field("n", "plans · 方案数", COUNT),
            order=[p["kind"] for p in kinds],
            parts=PLAN_STATUS_COLOURS,
        )
    return charts
