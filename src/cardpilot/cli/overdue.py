"""``cardpilot overdue treat --as-of DATE``: a risk segment and a treatment for every overdue
account, stored as auditable decisions, limit actions applied, notices queued."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cardpilot.cli import app
from cardpilot.cli.common import DATABASE_OPTION, database_url
from cardpilot.cli.output import JSON_OPTION, console, emit_json, err_console, fail

overdue_app = typer.Typer(help="Overdue accounts: segments and treatments.", no_args_is_help=True)
app.add_typer(overdue_app, name="overdue")


@overdue_app.command("treat")
def treat(
    as_of: str = typer.Option(..., "--as-of", help="Treatment date, YYYY-MM-DD."),
    model: Path | None = typer.Option(
        None, "--model", help="Model folder from `cardpilot model train --out DIR`."
    ),
    family: str = typer.Option(
        "scorecard", "--family", help="Registry model family whose champion gives the PD."
    ),
    policy: Path | None = typer.Option(
        None, "--policy", help="Overdue policy file or folder; default the shipped policy."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Export the date's treatments (.csv or .parquet)."
    ),
    chunk_rows: int = typer.Option(50_000, "--chunk-rows", help="Accounts per chunk."),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Segment and treat every overdue account; idempotent per account and date."""
    from cardpilot.cli.review import load_scorer
    from cardpilot.jobs.overdue import TreatError, treat_overdue
    from cardpilot.overdue.loading import OverduePolicyError, load_overdue_policy

    try:
        day = dt.date.fromisoformat(as_of)
    except ValueError as exc:
        raise fail(f"--as-of {as_of!r} is not a date; use YYYY-MM-DD") from exc
    try:
        chosen = load_overdue_policy(policy)
    except OverduePolicyError as exc:
        raise fail(str(exc)) from exc
    scorer = load_scorer(model, family)
    with Progress(
        TextColumn("[bold]treat"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=as_json,
    ) as bar:
        task = bar.add_task("treat", total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            result = treat_overdue(
                database_url(database),
                scorer,
                as_of=day,
                policy=chosen,
                chunk_rows=chunk_rows,
                out=out,
                progress=on_progress,
            )
        except TreatError as exc:
            raise fail(str(exc)) from None
    if as_json:
        emit_json(result.as_json())
        return
    console.print(
        f"overdue treatment · as of {result.as_of} · treated {result.treated:,} · "
        f"already treated {result.skipped:,} · notices {result.notices:,} · "
        f"{result.seconds:.1f} s · policy {result.policy_version}"
    )
    table = Table("segment", "accounts", "mean PD", title=f"Overdue accounts on {result.as_of}")
    for seg, n in result.by_segment.items():
        mean = result.mean_pd_by_segment.get(seg)
        table.add_row(seg, f"{n:,}", "-" if mean is None else f"{mean:.4f}")
    console.print(table)
    for title, counts in (
        ("treatment", result.by_treatment),
        ("limit action", result.by_limit_action),
    ):
        t = Table(title, "accounts", title=f"by {title}")
        for key, n in counts.items():
            t.add_row(key, f"{n:,}")
        console.print(t)
    if out is not None:
        console.print(f"wrote {out}")


@overdue_app.command("report")
def report(
    out: Path = typer.Option(..., "--out", help="The HTML report to write."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Treatment date, YYYY-MM-DD; default the latest treated."
    ),
    policy: Path | None = typer.Option(
        None,
        "--policy",
        help="Overdue policy the treatments were made under; default the "
        "shipped policy whose version they carry.",
    ),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Buckets and roll rates, treatments by segment, plans kept and broken, fees charged and
    waived: one self-contained HTML page (``--json``: the figures)."""
    from cardpilot.overdue.loading import OverduePolicyError, load_overdue_policy
    from cardpilot.reports.overdue import (
        OverdueReportError,
        policy_for_store,
        write_overdue_report,
    )
    from cardpilot.store.db import make_engine

    try:
        day = None if as_of is None else dt.date.fromisoformat(as_of)
    except ValueError as exc:
        raise fail(f"--as-of {as_of!r} is not a date; use YYYY-MM-DD") from exc
    db = make_engine(database_url(database))
    try:
        chosen = policy_for_store(db, day) if policy is None else load_overdue_policy(policy)
        figures = write_overdue_report(db, chosen, out, as_of=day)
    except (OverduePolicyError, OverdueReportError) as exc:
        raise fail(str(exc)) from None
    finally:
        db.dispose()
    if as_json:
        emit_json(figures)
        return
    fees = figures["fees"]
    plans = figures["plans"]["total"]
    console.print(
        f"overdue report · as of {figures['as_of']} · {len(figures['segments'])} segments · "
        f"{plans['plans']} plans (kept {plans['kept']}, broken {plans['broken']}) · "
        f"charged {fees['charged']}, waived {fees['waived']} {figures['currency']}"
    )
    console.print(f"wrote {out}")
