# ruff: noqa: E501  (the HTML template is easier to read unwrapped)
"""The overdue report (issue #7 item 7): one self-contained HTML page (and its figures as JSON).

Buckets (accounts and balances) on the report date and the roll rates between the last two
stored cycle snapshots; treatments by risk segment (limit actions, waivers, extensions,
penalty rates); 和谐还款 plans by kind and status with their kept and broken rates; fees
charged and waived. Figures come from what the store recorded (``aging_snapshots``,
``overdue_treatments``, ``repayment_plans``), not from a new run.

Each treatment decision stores the charges it assessed (``penalty_interest_minor``,
``late_fee_minor``: penalty interest for its days past due on its overdue balance plus the late
fee on the unpaid minimum payment of the latest statement, capped; ``overdue.charges``) and the
waived share (``fee_waived_minor``), and ``fee_totals`` sums them. Decisions stored before
migration 0009 have no charges; for those it derives them as it used to, exactly (integer
fen), with ``assess_charges`` under the policy they were made with. Plans store their own amounts: the penalty fees under the
plan, the waiver standing (final when kept, provisional while active) and what was reinstated
when a plan broke.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import Environment, select_autoescape
from sqlalchemy import Connection, Engine, text

from cardpilot.domain.fees import OverdueBalances
from cardpilot.domain.money import format_major
from cardpilot.jobs.plans import as_date
from cardpilot.overdue.aging import roll_rates, roll_summary
from cardpilot.overdue.charges import assess_charges
from cardpilot.overdue.schema import OverduePolicy
from cardpilot.reports.style import BASE_CSS

BP = 10_000
PLAN_KINDS = ("equal_principal", "amortising", "deferral", "personalised")
PLAN_STATUSES = ("offered", "accepted", "active", "kept", "broken", "declined")


class OverdueReportError(ValueError):
    """The report cannot be made as asked: says why and what to do."""


def _rate(num: int, den: int) -> str | None:
    """A share as a 6-decimal string (``None`` when there is nothing to divide by)."""
    if den <= 0:
        return None
    return f"{Decimal(num) / Decimal(den):.6f}"


# --------------------------------------------------------------------------- fees


@dataclass
class FeeTotals:
    """Fees charged and waived, integer minor units (fen for CNY)."""

    as_of: dt.date | None
    currency: str
    treatments: int = 0
    penalty_interest_minor: int = 0
    late_fee_minor: int = 0
    charged_minor: int = 0  # penalty interest + late fee of the date's decisions, capped
    treatment_waived_minor: int = 0  # the treatments' waiver share of what they charged
    plans: int = 0
    plan_penalty_fees_minor: int = 0  # penalty fees the plans' 和谐还款 waiver applies to
    plan_waived_kept_minor: int = 0  # waived for good (plans kept)
    plan_waived_active_minor: int = 0  # provisionally waived (plans active)
    plan_reinstated_minor: int = 0  # charged back (plans broken)
    by_segment: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def waived_minor(self) -> int:
        """Waived for good: the treatments' waivers plus the waivers of kept plans."""
        return self.treatment_waived_minor + self.plan_waived_kept_minor

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"as_of": None if self.as_of is None else self.as_of.isoformat()}
        for key, value in asdict(self).items():
            if key.endswith("_minor"):
                out[key.removesuffix("_minor")] = format_major(value)
            elif key == "by_segment":
                out[key] = {
                    seg: {k.removesuffix("_minor"): format_major(v) for k, v in figures.items()}
                    for seg, figures in value.items()
                }
            elif key != "as_of":
                out[key] = value
        out["waived"] = format_major(self.waived_minor)
        return out


def policy_for_store(db: Engine, as_of: dt.date | None = None) -> OverduePolicy:
    """The shipped policy (``policies/*/overdue.yaml``) the treatments of ``as_of`` (default:
    the latest date) were made under; the default policy when none matches or none is stored."""
    from cardpilot.overdue.loading import default_overdue_policy_path, load_overdue_policy

    with db.connect() as conn:
        day = latest_treatment_date(conn, as_of)
        stored = {
            str(v)
            for (v,) in conn.execute(
                text("SELECT DISTINCT policy_version FROM overdue_treatments WHERE as_of = :d"),
                {"d": day},
            )
        }
    default = load_overdue_policy()
    if not stored or default.version in stored:
        return default
    for folder in sorted(default_overdue_policy_path().parent.parent.iterdir()):
        if (folder / "overdue.yaml").is_file():
            candidate = load_overdue_policy(folder)
            if candidate.version in stored:
                return candidate
    return default


def latest_treatment_date(conn: Connection, on_or_before: dt.date | None = None) -> dt.date | None:
    sql = "SELECT MAX(as_of) FROM overdue_treatments"
    params: dict[str, Any] = {}
    if on_or_before is not None:
        sql += " WHERE as_of <= :d"
        params["d"] = on_or_before
    value = conn.execute(text(sql), params).scalar()
    return None if value is None else as_date(value)


def _add(totals: FeeTotals, segment: str, n: int, interest: int, late: int, waived: int) -> None:
    totals.treatments += n
    totals.penalty_interest_minor += interest
    totals.late_fee_minor += late
    totals.charged_minor += interest + late
    totals.treatment_waived_minor += waived
    seg = totals.by_segment.setdefault(segment, {"charged_minor": 0, "waived_minor": 0})
    seg["charged_minor"] += interest + late
    seg["waived_minor"] += waived


def fee_totals(db: Engine, policy: OverduePolicy, as_of: dt.date | None = None) -> FeeTotals:
    """Fees charged and waived by the treatment decisions of ``as_of`` (default: the latest
    treatment date) and by every 和谐还款 plan in the store, exact in minor units.

    The decisions' charges and waivers are the amounts stored with them (assessed by the
    treatment). Raises ``OverdueReportError`` when the date's decisions were made under another
    policy version: the amounts are in that policy's currency and terms (and decisions stored
    before migration 0009 are derived with ``policy``), so they would be mislabelled."""
    totals = FeeTotals(as_of=None, currency=policy.file.currency)
    with db.connect() as conn:
        day = as_of or latest_treatment_date(conn)
        totals.as_of = day
        if day is not None:
            versions = sorted(
                str(v)
                for (v,) in conn.execute(
                    text("SELECT DISTINCT policy_version FROM overdue_treatments WHERE as_of = :d"),
                    {"d": day},
                )
            )
            if versions and versions != [policy.version]:
                raise OverdueReportError(
                    f"the treatments of {day} were made under policy {', '.join(versions)}, "
                    f"not {policy.version}: pass --policy the folder they were made with"
                )
            stored = conn.execute(
                text(
                    "SELECT risk_segment, COUNT(*), SUM(penalty_interest_minor),"
                    " SUM(late_fee_minor), SUM(fee_waived_minor) FROM overdue_treatments"
                    " WHERE as_of = :d AND penalty_interest_minor IS NOT NULL"
                    " AND late_fee_minor IS NOT NULL GROUP BY risk_segment"
                ),
                {"d": day},
            ).all()
            for segment, n, interest, late, waived in stored:
                _add(totals, str(segment), int(n), int(interest), int(late), int(waived))
            # Decisions stored before migration 0009 carry no charges: derived as before.
            legacy = conn.execute(
                text(
                    "SELECT t.risk_segment, t.days_past_due, t.overdue_balance_minor,"
                    " t.fee_waiver_share_bp, s.minimum_due_minor, s.amount_paid_minor"
                    " FROM overdue_treatments t LEFT JOIN statements s"
                    " ON s.account_id = t.account_id AND s.cycle_date = ("
                    "   SELECT MAX(s2.cycle_date) FROM statements s2"
                    "   WHERE s2.account_id = t.account_id AND s2.cycle_date <= t.as_of)"
                    " WHERE t.as_of = :d AND (t.penalty_interest_minor IS NULL"
                    " OR t.late_fee_minor IS NULL) ORDER BY t.account_id"
                ),
                {"d": day},
            ).all()
            for segment, dpd, balance, share_bp, minimum, paid in legacy:
                unpaid = 0 if minimum is None else max(0, int(minimum) - int(paid or 0))
                charges = assess_charges(
                    policy,
                    str(segment),
                    OverdueBalances(principal_minor=max(0, int(balance))),
                    int(dpd),
                    unpaid,
                )
                waived = (charges.total_minor * int(share_bp) + BP // 2) // BP  # as treated
                _add(
                    totals,
                    str(segment),
                    1,
                    charges.penalty_interest_minor,
                    charges.late_fee_minor,
                    waived,
                )
        for status, n, fees, waived, reinstated in conn.execute(
            text(
                "SELECT status, COUNT(*), COALESCE(SUM(penalty_fees_minor), 0),"
                " COALESCE(SUM(waived_minor), 0), COALESCE(SUM(reinstated_minor), 0)"
                " FROM repayment_plans GROUP BY status"
            )
        ):
            totals.plans += int(n)
            if status in ("accepted", "active", "kept", "broken"):
                totals.plan_penalty_fees_minor += int(fees)
            if status == "kept":
                totals.plan_waived_kept_minor += int(waived)
            elif status == "active":
                totals.plan_waived_active_minor += int(waived)
            totals.plan_reinstated_minor += int(reinstated)
    totals.by_segment = dict(sorted(totals.by_segment.items()))
    return totals


# --------------------------------------------------------------------------- figures


def _buckets(conn: Connection, policy: OverduePolicy, day: dt.date) -> list[dict[str, Any]]:
    counts = {
        str(b): (int(n), int(bal), int(over))
        for b, n, bal, over in conn.execute(
            text(
                "SELECT bucket, COUNT(*), COALESCE(SUM(balance_minor), 0),"
                " COALESCE(SUM(overdue_balance_minor), 0) FROM aging_snapshots"
                " WHERE snapshot_date = :d GROUP BY bucket"
            ),
            {"d": day},
        )
    }
    total = sum(n for n, _, _ in counts.values())
    codes = list(policy.file.aging.scale().codes)
    codes += sorted(set(counts) - set(codes))  # buckets of another scale, if any
    return [
        {
            "bucket": code,
            "accounts": counts.get(code, (0, 0, 0))[0],
            "share": _rate(counts.get(code, (0, 0, 0))[0], total),
            "balance_minor": counts.get(code, (0, 0, 0))[1],
            "overdue_balance_minor": counts.get(code, (0, 0, 0))[2],
        }
        for code in codes
    ]


def _snapshot(conn: Connection, day: dt.date) -> pl.DataFrame:
    from cardpilot.store.frame_reads import query_frame

    return query_frame(
        conn,
        "SELECT account_id, bucket, balance_minor FROM aging_snapshots WHERE snapshot_date = :d",
        {"d": day},
        {"account_id": pl.String(), "bucket": pl.String(), "balance_minor": pl.Int64()},
    )


def _segments(conn: Connection, day: dt.date) -> list[dict[str, Any]]:
    out = []
    for r in conn.execute(
        text(
            "SELECT risk_segment, MIN(treatment), COUNT(*),"
            " SUM(CASE WHEN limit_action = 'none' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN limit_action = 'freeze' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN limit_action = 'cut' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN fee_waiver_share_bp > 0 THEN 1 ELSE 0 END),"
            " MAX(fee_waiver_share_bp),"
            " SUM(CASE WHEN due_date_extension_days > 0 THEN 1 ELSE 0 END),"
            " MAX(due_date_extension_days), MIN(penalty_rate_daily), MAX(penalty_rate_daily),"
            " COALESCE(SUM(overdue_balance_minor), 0), AVG(pd), COUNT(pd)"
            " FROM overdue_treatments WHERE as_of = :d GROUP BY risk_segment"
            " ORDER BY risk_segment"
        ),
        {"d": day},
    ):
        rate_lo, rate_hi = Decimal(str(r[10])), Decimal(str(r[11]))
        out.append(
            {
                "segment": str(r[0]),
                "treatment": str(r[1]),
                "accounts": int(r[2]),
                "limit_none": int(r[3]),
                "limit_freeze": int(r[4]),
                "limit_cut": int(r[5]),
                "waivers": int(r[6]),
                "waiver_share_bp": int(r[7]),
                "extensions": int(r[8]),
                "extension_days": int(r[9]),
                "penalty_rate_daily": str(rate_lo.normalize())
                if rate_lo == rate_hi
                else f"{rate_lo.normalize()}–{rate_hi.normalize()}",
                "overdue_balance_minor": int(r[12]),
                "mean_pd": None if not r[14] else f"{float(r[13]):.4f}",
            }
        )
    return out


def _plans(conn: Connection) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    principal: dict[str, int] = {}
    for kind, status, n, amount in conn.execute(
        text(
            "SELECT kind, status, COUNT(*), COALESCE(SUM(principal_minor), 0)"
            " FROM repayment_plans GROUP BY kind, status"
        )
    ):
        counts.setdefault(str(kind), dict.fromkeys(PLAN_STATUSES, 0))[str(status)] = int(n)
        principal[str(kind)] = principal.get(str(kind), 0) + int(amount)

    def row(kind: str, c: dict[str, int], amount: int) -> dict[str, Any]:
        ended = c["kept"] + c["broken"]
        return {
            "kind": kind,
            "plans": sum(c.values()),
            **c,
            "principal_minor": amount,
            "kept_rate": _rate(c["kept"], ended),
            "broken_rate": _rate(c["broken"], ended),
            "acceptance_rate": _rate(
                c["accepted"] + c["active"] + ended, sum(c.values()) - c["offered"]
            ),
        }

    kinds = [k for k in PLAN_KINDS if k in counts] + sorted(set(counts) - set(PLAN_KINDS))
    rows = [row(k, counts[k], principal[k]) for k in kinds]
    total = {s: sum(counts[k][s] for k in kinds) for s in PLAN_STATUSES}
    return {
        "by_kind": rows,
        "total": row("all", total, sum(principal.values())),
    }


def overdue_report_figures(
    db: Engine, policy: OverduePolicy, as_of: dt.date | None = None
) -> dict[str, Any]:
    """The report's figures as plain values, amounts in minor units (the JSON and HTML are
    made from this). ``as_of`` defaults to the latest treatment date (else snapshot date)."""
    with db.connect() as conn:
        day = latest_treatment_date(conn, as_of)
        snap_sql = "SELECT MAX(snapshot_date) FROM aging_snapshots"
        bound = as_of or day
        snap_day_raw = conn.execute(
            text(snap_sql + (" WHERE snapshot_date <= :d" if bound else "")),
            {"d": bound} if bound else {},
        ).scalar()
        snap_day = None if snap_day_raw is None else as_date(snap_day_raw)
        day = day or as_of or snap_day
        buckets = [] if snap_day is None else _buckets(conn, policy, snap_day)
        cycles = [
            as_date(d)
            for (d,) in conn.execute(
                text(
                    "SELECT DISTINCT snapshot_date FROM aging_snapshots WHERE kind = 'cycle'"
                    + (" AND snapshot_date <= :d" if snap_day else "")
                    + " ORDER BY snapshot_date"
                ),
                {"d": snap_day} if snap_day else {},
            )
        ]
        rolls: dict[str, Any] | None = None
        if len(cycles) >= 2:
            prev, curr = _snapshot(conn, cycles[-2]), _snapshot(conn, cycles[-1])
            summary = roll_summary(roll_rates(prev, curr), policy.file.aging.scale())
            rolls = {"from": cycles[-2].isoformat(), "to": cycles[-1].isoformat(), **summary}
        segments = [] if day is None else _segments(conn, day)
        plans = _plans(conn)
    fees = fee_totals(db, policy, day) if day is not None else FeeTotals(None, policy.file.currency)
    return {
        "as_of": None if day is None else day.isoformat(),
        "snapshot_date": None if snap_day is None else snap_day.isoformat(),
        "policy_version": policy.version,
        "currency": policy.file.currency,
        "buckets": buckets,
        "roll_rates": rolls,
        "segments": segments,
        "plans": plans,
        "fees": fees,
    }


def overdue_report_json(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures with amounts as decimal strings in major units (yuan for CNY)."""

    def major(obj: Any) -> Any:
        if isinstance(obj, FeeTotals):
            return obj.as_json()
        if isinstance(obj, dict):
            return {
                (k.removesuffix("_minor") if k.endswith("_minor") else k): (
                    format_major(v) if k.endswith("_minor") and isinstance(v, int) else major(v)
                )
                for k, v in obj.items()
            }
        if isinstance(obj, list):
            return [major(v) for v in obj]
        return obj

    return {"report": "overdue", **major(figures)}


# --------------------------------------------------------------------------- HTML

_TEMPLATE = (
    """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>逾期管理报告 Overdue report {{ as_of }}</title>
<style>
"""
    + BASE_CSS
    + """.cure{fill:#2e7d32}.roll{fill:#c62828}
</style></head><body>
<h1>逾期管理报告 · Overdue report {{ as_of or "—" }}</h1>
<p class="muted">Aging snapshot {{ snapshot_date or "—" }} · policy {{ policy_version }} · amounts in {{ currency }}
 · generated {{ generated }}</p>

<h2>账龄分布 · Buckets on {{ snapshot_date or "—" }}</h2>
<table><tr><th>bucket</th><th>accounts</th><th>share</th><th></th><th>balance</th><th>overdue balance</th></tr>
{% for b in buckets %}<tr><td>{{ b.bucket }}</td><td>{{ b.accounts }}</td><td>{{ b.share_pct }}</td>
<td>{{ b.bar | safe }}</td><td>{{ b.balance }}</td><td>{{ b.overdue_balance }}</td></tr>{% endfor %}
</table>

<h2>迁徙率 · Roll rates {% if rolls %}{{ rolls["from"] }} → {{ rolls["to"] }}{% endif %}</h2>
{% if rolls %}<p class="muted">Accounts that moved between the last two cycle snapshots, as a share of the
from-bucket (balance rate: balances at the earlier snapshot).</p>
<table><tr><th>roll</th><th>accounts</th><th>of</th><th>rate</th><th></th><th>balance rate</th>
<th class="l">cure</th><th>accounts</th><th>of</th><th>rate</th><th></th></tr>
{% for f, c in roll_rows %}<tr><td>{{ f.from }} → {{ f.to }}</td><td>{{ f.accounts }}</td><td>{{ f.from_accounts }}</td>
<td>{{ f.rate_pct }}</td><td>{{ f.bar | safe }}</td><td>{{ f.balance_rate_pct }}</td>
<td class="l">{% if c %}{{ c.from }} → {{ c.to }}{% endif %}</td><td>{{ c.accounts if c else "" }}</td>
<td>{{ c.from_accounts if c else "" }}</td><td>{{ c.rate_pct if c else "" }}</td><td>{{ c.bar | safe if c else "" }}</td></tr>{% endfor %}
</table>{% else %}<p class="muted">Fewer than two cycle snapshots are stored: run <code>cardpilot aging</code>.</p>{% endif %}

<h2>分群处置 · Treatments by risk segment ({{ as_of or "—" }})</h2>
<table><tr><th>segment</th><th class="l">treatment</th><th>accounts</th><th>mean PD</th><th>no action</th>
<th>frozen</th><th>cut</th><th>fee waivers</th><th>extensions</th><th>penalty rate / day</th><th>overdue balance</th></tr>
{% for s in segments %}<tr><td>{{ s.segment }}</td><td class="l">{{ s.treatment }}</td><td>{{ s.accounts }}</td>
<td>{{ s.mean_pd or "—" }}</td><td>{{ s.limit_none }}</td><td>{{ s.limit_freeze }}</td><td>{{ s.limit_cut }}</td>
<td>{{ s.waivers }}{% if s.waivers %} ({{ s.waiver_share }}){% endif %}</td>
<td>{{ s.extensions }}{% if s.extensions %} (+{{ s.extension_days }} d){% endif %}</td>
<td>{{ s.penalty_rate }}</td><td>{{ s.overdue_balance }}</td></tr>{% endfor %}
</table>

<h2>还款计划（和谐还款）· Plans by kind and status</h2>
<table><tr><th>kind</th><th>plans</th>{% for st in statuses %}<th>{{ st }}</th>{% endfor %}
<th>principal</th><th>kept rate</th><th>broken rate</th></tr>
{% for p in plan_rows %}<tr><td>{{ p.kind }}</td><td>{{ p.plans }}</td>{% for st in statuses %}<td>{{ p[st] }}</td>{% endfor %}
<td>{{ p.principal }}</td><td>{{ p.kept_pct }}</td><td>{{ p.broken_pct }}</td></tr>{% endfor %}
</table>
<p class="muted">Kept and broken rates are shares of the plans that ended after acceptance (kept + broken).</p>

<h2>费用收取与减免 · Fees charged and waived</h2>
<table><tr><th>item</th><th>amount</th></tr>
<tr><td>penalty interest (罚息), treatments of {{ as_of or "—" }}</td><td>{{ fees.penalty_interest }}</td></tr>
<tr><td>late fees (违约金), same decisions</td><td>{{ fees.late_fee }}</td></tr>
<tr><td><b>charged</b> ({{ fees.treatments }} decisions)</td><td><b>{{ fees.charged }}</b></td></tr>
<tr><td>waived by the treatments (segment waiver share)</td><td>{{ fees.treatment_waived }}</td></tr>
<tr><td>penalty fees under 和谐还款 plans (accepted or later, {{ fees.plans }} plans)</td><td>{{ fees.plan_penalty_fees }}</td></tr>
<tr><td>waived for good (plans kept)</td><td>{{ fees.plan_waived_kept }}</td></tr>
<tr><td>waived provisionally (plans active)</td><td>{{ fees.plan_waived_active }}</td></tr>
<tr><td>reinstated (plans broken)</td><td>{{ fees.plan_reinstated }}</td></tr>
<tr><td><b>waived</b> (treatments + kept plans)</td><td><b>{{ fees.waived }}</b></td></tr>
</table>
<table><tr><th>segment</th><th>charged</th><th>waived by treatment</th></tr>
{% for seg, f in fees.by_segment.items() %}<tr><td>{{ seg }}</td><td>{{ f.charged }}</td><td>{{ f.waived }}</td></tr>{% endfor %}
</table>
<p class="muted">Charges are those each stored decision assessed under its policy, exact in integer minor units:
penalty interest for its days past due on its overdue balance plus the late fee on the unpaid minimum payment, capped;
no interest on fees, no compounding (docs/overdue.md §2).</p>
</body></html>
"""
)

_WIDTH = 180


def _bar(value: float, top: float, cls: str = "bar") -> str:
    width = 0 if top <= 0 else round(_WIDTH * value / top)
    return (
        f'<svg width="{_WIDTH}" height="12" role="img"><rect class="{cls}" x="0" y="1" '
        f'width="{width}" height="10"/></svg>'
    )


def _pct(rate: str | None, digits: int = 2) -> str:
    return "—" if rate is None else f"{Decimal(rate) * 100:.{digits}f} %"


def _html_context(figures: dict[str, Any]) -> dict[str, Any]:
    data = overdue_report_json(figures)
    top = max([b["accounts"] for b in figures["buckets"]] or [0])
    buckets = [
        {**b, "share_pct": _pct(b["share"]), "bar": _bar(b["accounts"], top)}
        for b in data["buckets"]
    ]
    roll_rows: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    rolls = data["roll_rates"]
    if rolls:
        cures = {c["from"]: c for c in rolls["cures"]}
        for f in rolls["forward"]:
            fr = {
                **f,
                "rate_pct": _pct(f["rate"]),
                "balance_rate_pct": _pct(f["balance_rate"]),
                "bar": _bar(float(f["rate"]), 1.0, "roll"),
            }
            c = cures.get(f["to"])
            cr = (
                None
                if c is None
                else {**c, "rate_pct": _pct(c["rate"]), "bar": _bar(float(c["rate"]), 1.0, "cure")}
            )
            roll_rows.append((fr, cr))
    segments = [
        {
            **s,
            "waiver_share": f"{s['waiver_share_bp'] / 100:g} %",
            "penalty_rate": " / ".join(
                f"{(Decimal(r) * 100).normalize():f} %" for r in s["penalty_rate_daily"].split("–")
            ),
        }
        for s in data["segments"]
    ]
    plans = data["plans"]
    plan_rows = [
        {**p, "kept_pct": _pct(p["kept_rate"], 1), "broken_pct": _pct(p["broken_rate"], 1)}
        for p in [*plans["by_kind"], plans["total"]]
    ]
    return {
        **data,
        "buckets": buckets,
        "rolls": rolls,
        "roll_rows": roll_rows,
        "segments": segments,
        "plan_rows": plan_rows,
        "statuses": PLAN_STATUSES,
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def write_overdue_report(
    db: Engine, policy: OverduePolicy, out: Path, *, as_of: dt.date | None = None
) -> dict[str, Any]:
    """Render the overdue report to ``out`` (one self-contained HTML file); returns the
    figures as JSON (amounts as decimal strings) with the report's path."""
    figures = overdue_report_figures(db, policy, as_of)
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    html = env.from_string(_TEMPLATE).render(**_html_context(figures))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return {**overdue_report_json(figures), "path": str(out)}
