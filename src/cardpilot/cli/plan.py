"""Plan commands: ``cardpilot plan quote`` (offer/accept/status come with the plan store).

A quote prints the full schedule and the annualised rate (年化利率) as the monthly IRR × 12,
with the effective annual rate beside it (PBOC 〔2021〕 No. 3 and 银保监规〔2022〕13号, to
check: see docs/overdue.md). Amounts are decimal strings in yuan in ``--json``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from cardpilot.cli import app
from cardpilot.cli.output import JSON_OPTION, console, emit_json, fail
from cardpilot.domain.money import MoneyError, format_major, to_minor
from cardpilot.domain.plans import PlanError, PlanKind, PlanQuote, quote_plan

plan_app = typer.Typer(help="Instalment, deferral and 和谐还款 plans.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")

_KINDS = {k.value.replace("_", "-"): k for k in PlanKind}


def _today_local() -> dt.date:
    try:
        from cardpilot.config import get_settings

        zone = get_settings().timezone
    except Exception:  # settings unreadable: the China default
        zone = "Asia/Shanghai"
    return dt.datetime.now(ZoneInfo(zone)).date()


def quote_json(q: PlanQuote, policy_version: str | None) -> dict[str, Any]:
    return {
        "kind": q.kind.value,
        "principal": format_major(q.principal_minor),
        "months": q.months,
        "defer_months": q.defer_months,
        "start": q.start.isoformat(),
        "monthly_rate": str(q.monthly_rate),
        "nominal_annual_rate": str(q.nominal_annual_rate),
        "irr_monthly": str(q.irr_monthly),
        "apr": str(q.apr),
        "apr_basis": "monthly IRR x 12 (simple annualisation)",
        "ear": str(q.ear),
        "total_fee": format_major(q.total_fee_minor),
        "total_paid": format_major(q.total_paid_minor),
        "policy_version": policy_version,
        "payments": [
            {
                "n": p.n,
                "due_date": p.due_date.isoformat(),
                "principal": format_major(p.principal_minor),
                "fee": format_major(p.fee_minor),
                "total": format_major(p.total_minor),
            }
            for p in q.payments
        ],
    }


@plan_app.command("quote")
def quote(
    principal: str = typer.Option(..., "--principal", help="Amount in yuan, e.g. 12000."),
    months: int = typer.Option(..., "--months", help="Number of instalments (at most 60)."),
    monthly_fee_rate: str | None = typer.Option(
        None,
        "--monthly-fee-rate",
        help="Monthly fee rate (equal principal, deferral) or interest rate (amortising), "
        "e.g. 0.006; default: the policy's rate for the kind.",
    ),
    kind: str = typer.Option(
        "equal-principal", "--kind", help="equal-principal | amortising | deferral."
    ),
    start: str | None = typer.Option(
        None, "--start", help="Start date YYYY-MM-DD; default today (Asia/Shanghai)."
    ),
    defer_months: int = typer.Option(
        1, "--defer-months", help="Deferral plans: months before the first instalment."
    ),
    segment: str | None = typer.Option(
        None, "--segment", help="Check the plan against this risk segment's eligibility."
    ),
    policy: Path | None = typer.Option(
        None, "--policy", help="Overdue policy file or folder; default the shipped policy."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Quote a plan: the full schedule, the APR (monthly IRR × 12) and the effective rate."""
    from cardpilot.overdue.loading import OverduePolicyError, load_overdue_policy

    plan_kind = _KINDS.get(kind)
    if plan_kind is None:
        raise fail(f"--kind {kind!r} is not known; use one of {', '.join(_KINDS)}")
    try:
        principal_minor = to_minor(principal)
    except MoneyError as exc:
        raise fail(f"--principal: {exc}; give yuan like 12000 or 12000.50") from exc
    try:
        start_date = dt.date.fromisoformat(start) if start else _today_local()
    except ValueError as exc:
        raise fail(f"--start {start!r} is not a date; use YYYY-MM-DD") from exc
    try:
        pol = load_overdue_policy(policy)
    except OverduePolicyError as exc:
        raise fail(str(exc)) from exc
    terms = getattr(pol.file.plans, plan_kind.value)
    try:
        rate = Decimal(monthly_fee_rate) if monthly_fee_rate is not None else terms.monthly_rate
    except InvalidOperation as exc:
        raise fail(f"--monthly-fee-rate {monthly_fee_rate!r} is not a number, e.g. 0.006") from exc
    if segment is not None:
        seg = next((s for s in pol.file.segments if s.code == segment), None)
        if seg is None:
            known = ", ".join(s.code for s in pol.file.segments)
            raise fail(f"--segment {segment!r} is not in the policy; known: {known}")
        if plan_kind.value not in seg.treatment.plans:
            raise fail(
                f"segment {segment} is not eligible for {plan_kind.value} plans "
                f"(policy: {', '.join(seg.treatment.plans) or 'none'})"
            )
        if not terms.min_months <= months <= terms.max_months:
            raise fail(
                f"--months {months}: {plan_kind.value} plans run "
                f"{terms.min_months}..{terms.max_months} months under the policy"
            )
        if principal_minor < terms.min_principal_yuan:
            raise fail(
                f"--principal: at least {format_major(terms.min_principal_yuan)} yuan "
                f"for {plan_kind.value} plans"
            )
    try:
        q = quote_plan(
            plan_kind,
            principal_minor,
            months,
            rate,
            start_date,
            defer_months=defer_months if plan_kind is PlanKind.DEFERRAL else 0,
            max_tenor_months=pol.file.plans.max_tenor_months,
        )
    except PlanError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        emit_json(quote_json(q, pol.version))
        return
    table = Table("n", "due date", "principal", "fee", "total", title=f"{q.kind.value} plan")
    for p in q.payments:
        table.add_row(
            str(p.n),
            p.due_date.isoformat(),
            format_major(p.principal_minor),
            format_major(p.fee_minor),
            format_major(p.total_minor),
        )
    console.print(table)
    console.print(
        f"principal {format_major(q.principal_minor)}, total fee {format_major(q.total_fee_minor)}"
        f", total paid {format_major(q.total_paid_minor)}"
    )
    console.print(
        f"[bold]APR (年化利率, monthly IRR × 12): {q.apr * 100:.2f} %[/]; "
        f"effective annual rate {q.ear * 100:.2f} %; nominal {q.nominal_annual_rate * 100:.2f} %"
    )
