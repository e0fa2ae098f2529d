"""``cardpilot demo``: the main job on the embedded default, end to end.

Generates a synthetic portfolio (or imports the real one with ``--data``), loads it into the
store and reports on it. Later stages (scoring, review, notices, overdue) add their steps here.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import typer

from cardpilot.cli import app
from cardpilot.cli.common import DATABASE_OPTION, open_engine
from cardpilot.cli.demo_events import demo_events
from cardpilot.cli.notify import demo_step as notify_demo_step
from cardpilot.cli.output import console, fail
from cardpilot.cli.review import demo_review
from cardpilot.cli.segments import demo_segments
from cardpilot.cli.summary import print_summary
from cardpilot.config import get_settings
from cardpilot.jobs.importing import import_portfolio
from cardpilot.jobs.summary import summarise_portfolio
from cardpilot.overdue.schema import OverduePolicy
from cardpilot.privacy.masking import mask_email, mask_name, mask_national_id, mask_phone

# A fixed last cycle keeps the demo's figures the same from one day to the next.
DEMO_END_CYCLE = dt.date(2026, 10, 31)


@app.command()
def demo(
    data: Path | None = typer.Option(
        None, "--data", help="The real UCI file; without it a synthetic portfolio is generated."
    ),
    accounts: int = typer.Option(10_000, "--accounts", help="Synthetic accounts to generate."),
    seed: int = typer.Option(42, "--seed", help="Seed of the synthetic portfolio."),
    database: str | None = DATABASE_OPTION,
) -> None:
    """Run the main job: load a portfolio, summarise it, score, grade, review and notify."""
    settings = get_settings()
    url = database or _fresh_demo_store(settings.home, real_data=data is not None)
    if data is not None:
        if not data.exists():
            raise fail(f"--data {data}: no such file (expected the UCI CSV from ../shared/data)")
        console.rule("[bold]1. Import the real portfolio (UCI layout)")
        result = import_portfolio(data, layout="uci", database_url=url, settings=settings)
    else:
        from cardpilot.synth.generate import GenerateOptions, generate_portfolio

        out = settings.home / "demo-portfolio"
        console.rule(f"[bold]1. Generate {accounts:,} synthetic accounts (seed {seed})")
        if out.exists():
            shutil.rmtree(out)
        generated = generate_portfolio(
            GenerateOptions(
                accounts=accounts, out=out, seed=seed, months=12, end_cycle=DEMO_END_CYCLE
            )
        )
        console.print(
            "  "
            + ", ".join(f"{table} {rows:,}" for table, rows in generated.rows.items())
            + f" in {generated.seconds:.1f} s → {out}"
        )
        console.rule("[bold]2. Import into the store")
        result = import_portfolio(out, layout="generic", database_url=url, settings=settings)
    console.print(
        f"  added {result.accounts:,} accounts, {result.statements:,} statements, "
        f"{result.transactions:,} transactions; rejected {result.rejected:,} rows "
        f"in {result.seconds:.1f} s (a second run adds nothing)"
    )
    engine = open_engine(url)
    console.rule("[bold]3. Portfolio summary")
    print_summary(summarise_portfolio(engine))
    _show_masked_customers(engine)
    engine.dispose()

    # Score, grade, segment and review every account; treat the overdue ones; tell customers.
    reviewed = demo_review(url, data=data, home=settings.home, out_console=console)
    console.rule("[bold]Data-driven spending and repayment clusters beside the policy's segments")
    demo_segments(url, settings.home / "demo-segments", str(reviewed["as_of"]))
    _demo_overdue(url, dt.date.fromisoformat(str(reviewed["as_of"])), real_data=data is not None)
    console.rule("[bold]Notices: queue through the outbox and dispatch")
    notify_demo_step(url)
    if data is None:  # the synthetic events are in the synthetic portfolio's currency (CNY)
        demo_events(url, dt.date.fromisoformat(str(reviewed["as_of"])))


def _fresh_demo_store(home: Path, *, real_data: bool) -> str:
    """The demo's own SQLite store, rebuilt on every run, so that the synthetic (CNY) and the
    real (NT$) portfolios never mix and the demo never touches the user's store."""
    path = home / ("demo-uci.db" if real_data else "demo.db")
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    console.print(f"[dim]demo store: sqlite:///{path.resolve()}[/]")
    return f"sqlite:///{path.resolve()}"


def _demo_overdue(url: str, as_of: dt.date, *, real_data: bool) -> None:
    """Age the portfolio, treat every overdue account, queue the reminders, quote a repayment
    plan, run a few 和谐还款 plans to their end and write the overdue report."""
    from decimal import Decimal

    from cardpilot.cli.overdue import demo_reminders
    from cardpilot.cli.review import load_scorer
    from cardpilot.domain.money import format_major
    from cardpilot.domain.plans import quote_plan
    from cardpilot.jobs.aging import run_aging
    from cardpilot.jobs.overdue import treat_overdue
    from cardpilot.overdue.loading import default_overdue_policy_path, load_overdue_policy
    from cardpilot.store.db import make_engine
    from cardpilot.store.frames import read_portfolio_frames

    # The UCI amounts are NT dollars: its policy variant restates the CNY amounts.
    folder = default_overdue_policy_path().parent
    policy_path = folder.parent / "uci-twd" if real_data else folder
    policy = load_overdue_policy(policy_path)
    console.rule(f"[bold]Aging as of {as_of} ({policy.version})")
    engine = make_engine(url)
    try:
        statements = read_portfolio_frames(engine).statements
        report = run_aging(engine, statements, as_of, policy)
    finally:
        engine.dispose()
    figures = report.as_json()
    for bucket in figures["buckets"]:
        if bucket["accounts"]:
            console.print(
                f"  {bucket['bucket']:<8} {bucket['accounts']:>7,} accounts"
                f"  balance {bucket['balance']}"
            )
    console.rule("[bold]Overdue treatment by risk segment")
    result = treat_overdue(url, load_scorer(None, "scorecard"), as_of=as_of, policy=policy)
    for segment, n in result.by_segment.items():
        mean = result.mean_pd_by_segment.get(segment)
        console.print(
            f"  {segment:<12} {n:>7,} accounts" + ("" if mean is None else f"  mean PD {mean:.3f}")
        )
    console.print(
        "  treatments: "
        + ", ".join(f"{k} {v:,}" for k, v in result.by_treatment.items())
        + f"; frozen {result.frozen:,}, cut {result.cut:,}; notices queued {result.notices:,}"
    )
    console.rule("[bold]Reminders and education through the outbox")
    # The review's day is the day after the statement: the education messages go out then (to
    # a few customers who opt in here); the before-due reminders on their own day.
    demo_reminders(url, as_of, policy=policy_path, opt_in=200)
    due = _latest_due_date(url)
    if due is not None and policy.file.reminders is not None:
        rules = policy.file.reminders.rules
        days = max((r.days or 0 for r in rules if r.trigger == "before_due"), default=0)
        demo_reminders(url, due - dt.timedelta(days=days), policy=policy_path)
    console.rule("[bold]A repayment plan quote: 12,000 over 12 months at 0.6 % a month")
    quote = quote_plan("equal_principal", 1_200_000, 12, Decimal("0.006"), as_of)
    console.print(
        f"  12 payments of {format_major(quote.payments[0].total_minor)}, "
        f"total fee {format_major(quote.total_fee_minor)}, APR {quote.apr:.2%} "
        f"(monthly IRR × 12), effective annual rate {quote.ear:.2%}"
    )
    _demo_plans(url, as_of, policy)
    _demo_overdue_report(url, as_of, policy)


# Plans the demo offers: per harmony segment, the kinds it alternates (when the segment's
# treatment allows them) and their tenors.
_DEMO_PLANS_PER_SEGMENT = 4
_DEMO_KINDS = {
    "low_risk": ("deferral", "equal_principal"),
    "medium_risk": ("equal_principal", "amortising"),
}
_DEMO_MONTHS = {"equal_principal": 6, "amortising": 6, "deferral": 3}


def _demo_plans(url: str, as_of: dt.date, policy: OverduePolicy) -> None:
    """和谐还款 for a handful of eligible accounts: offered on ``as_of``, accepted, then
    simulated payments (stored as payment transactions, so the daily job picks them up) and
    ``advance_plans`` month by month until every plan has ended.

    Deterministic: the accounts are the first eligible ones by account id in each harmony
    segment; among them, the third with the highest PD stops paying after a number of
    instalments drawn from a generator seeded with the plan id (the plan breaks and its
    waiver is reinstated), the others pay every instalment a few (seeded) days early (kept)."""
    import time

    from cardpilot.domain.plans import add_months
    from cardpilot.store.db import make_engine
    from cardpilot.store.payments import insert_payments

    console.rule("[bold]和谐还款: plans offered, accepted, paid or missed")
    start = time.perf_counter()
    db = make_engine(url)
    try:
        offered = _offer_demo_plans(db, as_of, policy)
        if not offered:
            console.print("  no account eligible for 和谐还款 on this date")
            return
        insert_payments(db, _simulated_payments(offered))
        month = _advance_until_ended(db, as_of)
        console.print(
            f"  {len(offered)} plans offered on {as_of} and accepted; simulated payments,"
            f" advanced month by month to {add_months(as_of, month)}"
            f" ({time.perf_counter() - start:.1f} s)"
        )
        _print_plans(db)
    finally:
        db.dispose()


def _offer_demo_plans(db: Any, as_of: dt.date, policy: OverduePolicy) -> list[Any]:
    """Up to ``_DEMO_PLANS_PER_SEGMENT`` plans per harmony segment, offered and accepted:
    (plan, PD, currency) each."""
    from cardpilot.jobs.plans import PlanStoreError, accept_plan, offer_plan
    from cardpilot.store.plan_candidates import harmony_candidates

    harmony = policy.file.harmony.segments
    offered: list[Any] = []
    taken = dict.fromkeys(harmony, 0)
    for candidate in harmony_candidates(db, as_of):
        segment = candidate.risk_segment
        if segment not in taken or taken[segment] >= _DEMO_PLANS_PER_SEGMENT:
            continue
        kinds = [k for k in _DEMO_KINDS.get(segment, ()) if k in candidate.eligible_plans]
        if not kinds:
            continue
        kind = kinds[taken[segment] % len(kinds)]
        try:
            plan = offer_plan(
                db, candidate.account_id, policy, on=as_of, kind=kind, months=_DEMO_MONTHS[kind]
            )
        except PlanStoreError:
            continue  # below the kind's minimum, or the customer has an open plan
        taken[segment] += 1
        accept_plan(db, plan.plan_id, on=as_of + dt.timedelta(days=1 + len(offered) % 3))
        pd = 0.0 if candidate.pd is None else candidate.pd
        offered.append((plan, pd, candidate.currency))
    return offered


def _simulated_payments(offered: list[Any]) -> list[Any]:
    """The instalments paid: all of them a few days early, but for the third of the plans
    with the highest PD, which stop after a seeded number of instalments."""
    import random

    from cardpilot.store.payments import Payment

    by_pd = sorted(offered, key=lambda o: (-o[1], o[0].plan_id))
    breakers = {p.plan_id for p, _, _ in by_pd[: max(1, len(offered) // 3)]}
    shanghai = dt.timezone(dt.timedelta(hours=8))
    payments = []
    for plan, _, currency in offered:
        rng = random.Random(f"cardpilot-demo:{plan.plan_id}")
        paid = len(plan.instalments)
        if plan.plan_id in breakers:
            paid = rng.randint(1, len(plan.instalments) - 1)
        for n, inst in enumerate(plan.instalments[:paid]):
            day = dt.date.fromisoformat(inst["due_date"]) - dt.timedelta(days=rng.randint(0, 5))
            payments.append(
                Payment(
                    transaction_id=f"DEMO-{plan.plan_id}-{n + 1}",
                    account_id=plan.account_id,
                    posted_at=dt.datetime.combine(day, dt.time(10), tzinfo=shanghai),
                    amount_minor=inst["amount_minor"],
                    currency=currency,
                )
            )
    return payments


def _advance_until_ended(db: Any, as_of: dt.date) -> int:
    """Advance the plans month by month until none is open (36 months at most)."""
    from cardpilot.domain.plans import add_months
    from cardpilot.jobs.plans import advance_plans

    month = 1
    while month < 36 and advance_plans(db, add_months(as_of, month)).by_status.keys() & {
        "offered",
        "accepted",
        "active",
    }:
        month += 1
    return month


def _print_plans(db: Any) -> None:
    from cardpilot.domain.money import format_major
    from cardpilot.jobs.plans import plan_status

    console.print(
        f"  {'account':<11} {'segment':<6} {'kind':<15} {'paid':>5} {'status':<6}"
        f" {'fees':>8} {'waived':>8} {'reinstated':>10}"
    )
    for view in plan_status(db):
        covered, due = 0, 0
        for inst in view.instalments:
            due += inst["amount_minor"]
            covered += due <= view.paid_minor
        console.print(
            f"  {view.account_id:<11} {(view.risk_segment or '-').removesuffix('_risk'):<6}"
            f" {view.kind:<15} {f'{covered}/{len(view.instalments)}':>5} {view.status:<6}"
            f" {format_major(view.penalty_fees_minor):>8} {format_major(view.waived_minor):>8}"
            f" {format_major(view.reinstated_minor):>10}"
        )


def _demo_overdue_report(url: str, as_of: dt.date, policy: OverduePolicy) -> None:
    """The overdue report beside the review report."""
    from cardpilot.reports.overdue import write_overdue_report
    from cardpilot.store.db import make_engine

    out = get_settings().home / "overdue-report.html"
    db = make_engine(url)
    try:
        figures = write_overdue_report(db, policy, out, as_of=as_of)
    finally:
        db.dispose()
    plans, fees = figures["plans"]["total"], figures["fees"]
    console.rule("[bold]Overdue report")
    console.print(
        f"  plans {plans['plans']}: kept {plans['kept']}, broken {plans['broken']} "
        f"(kept rate {plans['kept_rate'] or '-'}); fees charged {fees['charged']}, "
        f"waived {fees['waived']} (reinstated {fees['plan_reinstated']}) {figures['currency']}"
    )
    console.print(f"  report → {out}")


def _latest_due_date(url: str) -> dt.date | None:
    from cardpilot.store.portfolio_facts import latest_cycle_due_date

    engine = open_engine(url)
    try:
        return latest_cycle_due_date(engine)
    finally:
        engine.dispose()


def _show_masked_customers(engine: object) -> None:
    """Personal data is stored encrypted and shown masked, as a screen would show it."""
    from sqlalchemy import Engine, select

    from cardpilot.cli.privacy import checked_cipher
    from cardpilot.store.models import Customer

    assert isinstance(engine, Engine)
    cipher = checked_cipher(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Customer.customer_id,
                Customer.name_enc,
                Customer.national_id_enc,
                Customer.phone_enc,
                Customer.email_enc,
            )
            .where(Customer.phone_enc.is_not(None))
            .limit(3)
        ).all()
    if not rows:
        return
    console.rule("[bold]Customers as shown on screen (stored encrypted, shown masked)")
    for cid, name, nid, phone, email in rows:
        console.print(
            f"  {cid}: {mask_name(cipher.decrypt(name))}  {mask_national_id(cipher.decrypt(nid))}"
            f"  {mask_phone(cipher.decrypt(phone))}  {mask_email(cipher.decrypt(email))}"
        )
