"""``cardpilot overdue treat --as-of DATE``: a risk segment and a treatment for every overdue
account, stored as auditable decisions, limit actions applied, notices queued.
``cardpilot overdue remind --as-of DATE``: the day's reminders and education messages queued
through the outbox; ``cardpilot overdue opt-in``: customers' consent to education messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cardpilot.cli import app
from cardpilot.cli.as_of import as_of_for_url, as_of_or_default
from cardpilot.cli.common import (
    DATABASE_OPTION,
    EXPERIMENT_OPTION,
    OVERDUE_POLICY_OPTION,
    database_url,
    experiment_policies,
    policy_path,
)
from cardpilot.cli.i18n import tr
from cardpilot.cli.output import JSON_OPTION, console, err_console, fail, print_json, titled_table
from cardpilot.cli.progress import counted
from cardpilot.policy.catalogue import OVERDUE

if TYPE_CHECKING:
    from cardpilot.jobs.reminders import RemindResult

overdue_app = typer.Typer(help="Overdue accounts: segments and treatments.", no_args_is_help=True)
app.add_typer(overdue_app, name="overdue")


def _progress(name: str, quiet: bool) -> AbstractContextManager[Callable[[int, int], None]]:
    """A Rich bar on stderr (gone after the run with ``--json``); yields the job's callback."""
    return counted(err_console, name, transient=quiet)


@overdue_app.command("treat")
def treat(
    as_of: str | None = typer.Option(None, "--as-of", help="Treatment date"),
    model: Path | None = typer.Option(
        None, "--model", help="Model folder from `cardpilot model train --out DIR`."
    ),
    family: str = typer.Option(
        "scorecard", "--family", help="Registry model family whose champion gives the PD."
    ),
    policy: str | None = OVERDUE_POLICY_OPTION,
    out: Path | None = typer.Option(
        None, "--out", help="Export the date's treatments (.csv or .parquet)."
    ),
    chunk_rows: int = typer.Option(50_000, "--chunk-rows", help="Accounts per chunk."),
    experiment: str | None = EXPERIMENT_OPTION,
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Segment and treat every overdue account; idempotent per account and date."""
    from cardpilot.cli.review import load_scorer
    from cardpilot.jobs.overdue import TreatError, treat_overdue
    from cardpilot.overdue.loading import OverduePolicyError, load_overdue_policy

    url = database_url(database)
    arms, policy = experiment_policies(url, experiment, policy, "overdue")
    try:
        chosen = arms.champion if arms else load_overdue_policy(policy_path(policy, OVERDUE))
    except OverduePolicyError as exc:
        raise fail(str(exc)) from exc
    scorer = load_scorer(model, family)
    day = as_of_for_url(as_of, url)
    with _progress("treat", as_json) as on_progress:
        try:
            result = treat_overdue(
                url,
                scorer,
                as_of=day,
                policy=chosen,
                chunk_rows=chunk_rows,
                out=out,
                progress=on_progress,
                experiment=arms,
            )
        except TreatError as exc:
            raise fail(str(exc)) from None
    if as_json:
        print_json("overdue treat", result.as_json())
        return
    console.print(
        f"overdue treatment · as of {result.as_of} · treated {result.treated:,} · "
        f"already treated {result.skipped:,} · on a 和谐还款 plan {result.on_plan:,} · "
        f"notices {result.notices:,} · "
        f"{result.seconds:.1f} s · policy {result.policy_version}"
    )
    table = titled_table(
        "segment",
        "accounts",
        "mean PD",
        title=tr("Overdue accounts on {day}").format(day=result.as_of),
    )
    for seg, n in result.by_segment.items():
        mean = result.mean_pd_by_segment.get(seg)
        table.add_row(seg, f"{n:,}", "-" if mean is None else f"{mean:.4f}")
    console.print(table)
    for title, counts in (
        ("treatment", result.by_treatment),
        ("limit action", result.by_limit_action),
    ):
        t = titled_table(title, "accounts", title=tr("by {what}").format(what=tr(title)))
        for key, n in counts.items():
            t.add_row(key, f"{n:,}")
        console.print(t)
    if out is not None:
        console.print(f"wrote {out}")


@overdue_app.command("report")
def report(
    out: Path = typer.Option(..., "--out", help="The HTML report to write."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Report the treatments of this date (the latest on or before it)"
    ),
    policy: str | None = typer.Option(
        None,
        "--policy",
        help="Overdue policy (name, folder or overdue.yaml) the treatments were made under;"
        " default the shipped policy whose version they carry.",
    ),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Buckets and roll rates, treatments by segment, plans kept and broken, fees charged and
    waived: one self-contained HTML page (with --json: the figures)."""
    from cardpilot.overdue.loading import OverduePolicyError, load_overdue_policy
    from cardpilot.reports.overdue import (
        OverdueReportError,
        policy_for_store,
        write_overdue_report,
    )
    from cardpilot.store.db import make_engine

    db = make_engine(database_url(database))
    try:
        day = as_of_or_default(as_of, db)
        chosen = (
            policy_for_store(db, day)
            if policy is None
            else load_overdue_policy(policy_path(policy, OVERDUE))
        )
        figures = write_overdue_report(db, chosen, out, as_of=day)
    except (OverduePolicyError, OverdueReportError) as exc:
        raise fail(str(exc)) from None
    finally:
        db.dispose()
    if as_json:
        print_json("overdue report", figures)
        return
    fees = figures["fees"]
    plans = figures["plans"]["total"]
    console.print(
        f"overdue report · as of {figures['as_of']} · {len(figures['segments'])} segments · "
        f"{plans['plans']} plans (kept {plans['kept']}, broken {plans['broken']}) · "
        f"charged {fees['charged']}, waived {fees['waived']} {figures['currency']}"
    )
    console.print(f"wrote {out}")


# ------------------------------------------------------------------ reminders and education


@overdue_app.command("remind")
def remind(
    as_of: str | None = typer.Option(None, "--as-of", help="The day to plan the messages for"),
    policy: str | None = OVERDUE_POLICY_OPTION,
    chunk_rows: int = typer.Option(50_000, "--chunk-rows", help="Accounts per chunk."),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Queue the day's reminders (before the due date, first day overdue, treatment path) and
    education messages (opted-in customers) through the outbox; a re-run queues nothing twice.
    Quiet hours and frequency caps apply when `cardpilot notify dispatch` sends them."""
    from cardpilot.jobs.reminders import RemindError, send_reminders
    from cardpilot.overdue.loading import OverduePolicyError, load_overdue_policy
    from cardpilot.overdue.reminders import RemindersError

    try:
        chosen = load_overdue_policy(policy_path(policy, OVERDUE))
    except OverduePolicyError as exc:
        raise fail(str(exc)) from exc
    url = database_url(database)
    day = as_of_for_url(as_of, url)
    with _progress("remind", as_json) as on_progress:
        try:
            result = send_reminders(
                url,
                as_of=day,
                policy=chosen,
                chunk_rows=chunk_rows,
                progress=on_progress,
            )
        except (RemindError, RemindersError) as exc:
            raise fail(str(exc)) from None
    if as_json:
        print_json("overdue remind", result.as_json())
        return
    _print_reminders(result)


def _print_reminders(result: RemindResult) -> None:
    console.print(
        f"reminders · {result.as_of} · accounts {result.accounts:,} · due {result.due:,} · "
        f"planned {result.planned:,} (over the daily cap {result.suppressed:,}) · "
        f"queued {result.queued:,} · already queued {result.already_queued:,} · "
        f"{result.seconds:.1f} s · policy {result.policy_version}"
    )
    if result.by_rule:
        table = titled_table("rule", "messages", title="planned by rule")
        for rule, n in result.by_rule.items():
            table.add_row(rule, f"{n:,}")
        console.print(table)


@overdue_app.command("opt-in")
def opt_in(
    customers: list[str] = typer.Argument(..., help="Customer ids."),
    withdraw: bool = typer.Option(False, "--withdraw", help="Record an opt-out instead."),
    source: str = typer.Option("cli", "--source", help="Where the consent was given."),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record customers' consent to education messages (or withdraw it)."""
    from cardpilot.jobs.reminders import RemindError, record_opt_ins

    try:
        n = record_opt_ins(database_url(database), customers, opted_in=not withdraw, source=source)
    except RemindError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(
            "overdue opt-in",
            {"customers": n, "opted_in": not withdraw, "source": source},
        )
        return
    console.print(f"{'withdrew' if withdraw else 'recorded'} education opt-in for {n} customers")


def demo_reminders(
    url: str, as_of: dt.date, *, policy: Path | None = None, opt_in: int = 0
) -> RemindResult:
    """For ``make demo``: queue the reminders and education messages of ``as_of`` in the store
    at ``url`` and print a few lines (the run, messages per rule, one rendered in-app message).

    ``policy``: an overdue policy folder (the ``uci-twd`` folder for the UCI data);
    ``opt_in``: first record an education opt-in (source ``demo``) for that many customers, so
    the education messages show. Good dates: a statement's due date − 5 (before-due reminders),
    due date + 1 (first day overdue), cycle date + 1 (the minimum-payment illustration)."""
    from cardpilot.jobs.reminders import record_opt_ins, send_reminders
    from cardpilot.overdue.loading import load_overdue_policy
    from cardpilot.store.db import make_engine, open_store
    from cardpilot.store.outbox_rows import latest_message_body
    from cardpilot.store.portfolio_facts import first_customer_ids

    if opt_in > 0:
        db = open_store(url)
        try:
            chosen = first_customer_ids(db, opt_in)
        finally:
            db.dispose()
        record_opt_ins(url, chosen, source="demo")
    result = send_reminders(url, as_of=as_of, policy=load_overdue_policy(policy))
    _print_reminders(result)
    db = make_engine(url)
    try:
        sample = latest_message_body(db, "reminder:", "app")
    finally:
        db.dispose()
    if sample is not None:
        console.print(f"[dim]{sample[0]} (in-app):[/dim]\n{sample[1]}")
    return result
