"""Plan commands: ``cardpilot plan quote``, and the 和谐还款 store: ``plan offer | accept |
decline | advance | status``.

A quote prints the full schedule and the annualised rate (年化利率) as the monthly IRR × 12,
with the effective annual rate beside it (PBOC 〔2021〕 No. 3 and 银保监规〔2022〕13号, to
check: see docs/overdue.md). ``--json``: amounts in major units beside ``currency``, rates as
decimal strings.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import typer

from cardpilot.cli import app
from cardpilot.cli.as_of import as_of_or_default
from cardpilot.cli.common import DATABASE_OPTION, OVERDUE_POLICY_OPTION, policy_path
from cardpilot.cli.output import JSON_OPTION, console, fail, print_json, titled_table
from cardpilot.domain.money import MoneyError, format_major, to_minor
from cardpilot.domain.plans import PlanError, PlanKind, PlanQuote, quote_plan
from cardpilot.policy.catalogue import OVERDUE
from cardpilot.service.plans import quote_json

if TYPE_CHECKING:
    from cardpilot.overdue.schema import OverduePolicy

plan_app = typer.Typer(help="Instalment, deferral and 和谐还款 plans.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")

_KINDS = {k.value.replace("_", "-"): k for k in PlanKind}


def today_local() -> dt.date:
    try:
        from cardpilot.config import get_settings

        zone = get_settings().timezone
    except Exception:  # settings unreadable: the China default
        zone = "Asia/Shanghai"
    return dt.datetime.now(ZoneInfo(zone)).date()


def _check_segment_terms(
    pol: OverduePolicy, segment: str, plan_kind: PlanKind, months: int, principal_minor: int
) -> None:
    """Fail unless the policy's ``segment`` may have this plan on these terms."""
    terms = getattr(pol.file.plans, plan_kind.value)
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


def print_quote(q: PlanQuote) -> None:
    """The schedule as a table, then the totals and the rates."""
    table = titled_table("n", "due date", "principal", "fee", "total", title=f"{q.kind.value} plan")
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
    policy: str | None = OVERDUE_POLICY_OPTION,
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
        start_date = dt.date.fromisoformat(start) if start else today_local()
    except ValueError as exc:
        raise fail(f"--start {start!r} is not a date; use YYYY-MM-DD") from exc
    try:
        pol = load_overdue_policy(policy_path(policy, OVERDUE))
    except OverduePolicyError as exc:
        raise fail(str(exc)) from exc
    terms = getattr(pol.file.plans, plan_kind.value)
    try:
        rate = Decimal(monthly_fee_rate) if monthly_fee_rate is not None else terms.monthly_rate
    except InvalidOperation as exc:
        raise fail(f"--monthly-fee-rate {monthly_fee_rate!r} is not a number, e.g. 0.006") from exc
    if segment is not None:
        _check_segment_terms(pol, segment, plan_kind, months, principal_minor)
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
        print_json("plan quote", quote_json(q, pol.version, pol.file.currency))
        return
    print_quote(q)


# --------------------------------------------------------------------------- 和谐还款 store

DATABASE = DATABASE_OPTION


def _day(value: str | None, option: str) -> dt.date:
    if value is None:
        return today_local()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} {value!r} is not a date; use YYYY-MM-DD") from None


def _print_plan(view: Any) -> None:
    console.print(
        f"[bold]{view.plan_id}[/] account {view.account_id} · {view.status}"
        f"{f' ({view.status_reason}, {view.status_on})' if view.status_reason else ''} · "
        f"{view.kind} × {view.months} · principal {format_major(view.principal_minor)} · "
        f"fees the plan may waive {format_major(view.penalty_fees_minor)} · "
        f"paid {format_major(view.paid_minor)} of {format_major(view.total_due_minor)} · "
        f"waived {format_major(view.waived_minor)} · "
        f"reinstated {format_major(view.reinstated_minor)}"
    )
    table = titled_table("date", "event", "amount", "outcome", "status", "reason")
    for e in view.events:
        status = f"{e['from_status'] or ''} → {e['to_status']}" if e["to_status"] else ""
        amount = "" if e["amount_minor"] is None else format_major(e["amount_minor"])
        table.add_row(e["on"], e["kind"], amount, e["outcome"] or "", status, e["reason"] or "")
    console.print(table)


def _emit(command: str, views: list[Any], as_json: bool) -> None:
    if as_json:
        # the amounts in major units beside each plan's currency, the waiver share as a rate
        print_json(command, {"plans": [v.as_json() for v in views]})
        return
    if not views:
        console.print("no plans")
    for v in views:
        _print_plan(v)


@plan_app.command("offer")
def offer(
    account: str = typer.Option(..., "--account", help="Account id."),
    kind: str = typer.Option(
        "equal-principal", "--kind", help="equal-principal | amortising | deferral."
    ),
    months: int = typer.Option(6, "--months", help="Number of instalments."),
    defer_months: int = typer.Option(1, "--defer-months", help="Deferral plans only."),
    on: str | None = typer.Option(None, "--on", help="Offer date; default today (Shanghai)."),
    penalty_fees: str | None = typer.Option(
        None,
        "--penalty-fees",
        help="Penalty fees the waiver applies to (major units); default: assessed from the "
        "policy's charges on the overdue balance.",
    ),
    policy: str | None = OVERDUE_POLICY_OPTION,
    database: str | None = DATABASE,
    as_json: bool = JSON_OPTION,
) -> None:
    """Offer 和谐还款 to an overdue account (its latest treatment decides eligibility)."""
    from cardpilot.cli.common import open_engine
    from cardpilot.jobs.plans import PlanStoreError, offer_plan
    from cardpilot.overdue.loading import OverduePolicyError, load_overdue_policy

    plan_kind = _KINDS.get(kind)
    if plan_kind is None:
        raise fail(f"--kind {kind!r} is not known; use one of {', '.join(_KINDS)}")
    try:
        pol = load_overdue_policy(policy_path(policy, OVERDUE))
    except OverduePolicyError as exc:
        raise fail(str(exc)) from exc
    try:
        fees = None if penalty_fees is None else to_minor(penalty_fees)
    except MoneyError as exc:
        raise fail(f"--penalty-fees: {exc}") from exc
    engine = open_engine(database)
    try:
        view = offer_plan(
            engine,
            account,
            pol,
            on=_day(on, "--on"),
            kind=plan_kind,
            months=months,
            defer_months=defer_months,
            penalty_fees_minor=fees,
        )
    except PlanStoreError as exc:
        raise fail(str(exc)) from None
    finally:
        engine.dispose()
    _emit("plan offer", [view], as_json)


STEP_COMMANDS = {"accepted": "plan accept", "declined": "plan decline"}


def _step(plan: str, kind: str, on: str | None, database: str | None, as_json: bool) -> None:
    from cardpilot.cli.common import open_engine
    from cardpilot.jobs.plans import PlanStoreError, accept_plan, decline_plan

    engine = open_engine(database)
    try:
        step = accept_plan if kind == "accepted" else decline_plan
        view = step(engine, plan, on=_day(on, "--on"))
    except PlanStoreError as exc:
        raise fail(str(exc)) from None
    finally:
        engine.dispose()
    _emit(STEP_COMMANDS[kind], [view], as_json)
    mine = [e for e in view.events if e["kind"] == kind]
    if mine and mine[-1]["outcome"] == "rejected":
        raise fail(f"{kind} refused: {mine[-1]['reason']}")


@plan_app.command("accept")
def accept(
    plan: str = typer.Option(..., "--plan", help="Plan id (from plan offer / plan status)."),
    on: str | None = typer.Option(None, "--on", help="Acceptance date; default today."),
    database: str | None = DATABASE,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record the customer's own acceptance of an offered plan."""
    _step(plan, "accepted", on, database, as_json)


@plan_app.command("decline")
def decline(
    plan: str = typer.Option(..., "--plan", help="Plan id."),
    on: str | None = typer.Option(None, "--on", help="Date; default today."),
    database: str | None = DATABASE,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record that the customer declined an offered plan."""
    _step(plan, "declined", on, database, as_json)


@plan_app.command("advance")
def advance(
    as_of: str | None = typer.Option(None, "--as-of", help="Close the plans' days up to this one"),
    database: str | None = DATABASE,
    as_json: bool = JSON_OPTION,
) -> None:
    """Turn stored payments into plan events and close the day: plans activate, are kept or
    break; offers expire. Idempotent."""
    from cardpilot.cli.common import open_engine
    from cardpilot.jobs.plans import advance_plans

    engine = open_engine(database)
    try:
        result = advance_plans(engine, as_of_or_default(as_of, engine))
    finally:
        engine.dispose()
    if as_json:
        print_json("plan advance", result.as_json())
        return
    console.print(
        f"advanced {result.plans:,} open plans to {result.as_of}; {result.events_added:,} new "
        f"events; now {', '.join(f'{k} {v:,}' for k, v in sorted(result.by_status.items()))}"
    )


@plan_app.command("status")
def status(
    plan: str | None = typer.Option(None, "--plan", help="One plan."),
    account: str | None = typer.Option(None, "--account", help="The plans of one account."),
    database: str | None = DATABASE,
    as_json: bool = JSON_OPTION,
) -> None:
    """Plans with their events, each transition with its reason."""
    from cardpilot.cli.common import open_engine
    from cardpilot.jobs.plans import plan_status

    engine = open_engine(database)
    try:
        views = plan_status(engine, plan_id=plan, account_id=account)
    finally:
        engine.dispose()
    if plan is not None and not views:
        raise fail(f"plan {plan!r} is not in the store")
    _emit("plan status", views, as_json)
