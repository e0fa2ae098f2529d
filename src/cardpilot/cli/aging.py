"""``cardpilot aging --as-of DATE``: age every account, store the snapshots, report buckets
and roll rates."""

from __future__ import annotations

import typer

from cardpilot.cli import app
from cardpilot.cli.as_of import as_of_or_default
from cardpilot.cli.common import DATABASE_OPTION, OVERDUE_POLICY_OPTION, open_engine, policy_path
from cardpilot.cli.i18n import tr
from cardpilot.cli.output import JSON_OPTION, console, err_console, fail, print_json, titled_table
from cardpilot.policy.catalogue import OVERDUE


@app.command()
def aging(
    as_of: str | None = typer.Option(None, "--as-of", help="The day to age the portfolio on"),
    database: str | None = DATABASE_OPTION,
    policy: str | None = OVERDUE_POLICY_OPTION,
    no_store: bool = typer.Option(False, "--no-store", help="Report only; store nothing."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Days past due, buckets and roll rates; stores a snapshot per cycle date (and as-of)."""
    from cardpilot.jobs.aging import run_aging
    from cardpilot.overdue.loading import OverduePolicyError, load_overdue_policy
    from cardpilot.store.frames import read_portfolio_frames

    try:
        pol = load_overdue_policy(policy_path(policy, OVERDUE))
    except OverduePolicyError as exc:
        raise fail(str(exc)) from exc
    engine = open_engine(database)
    day = as_of_or_default(as_of, engine)
    statements = read_portfolio_frames(engine).statements
    if statements.is_empty():
        raise fail("the store holds no statements; import a portfolio first (cardpilot import)")
    out = err_console if as_json else console
    report = run_aging(
        engine,
        statements,
        day,
        pol,
        store=not no_store,
        progress=lambda d: out.print(f"aging {d.isoformat()}", style="dim"),
    )
    if as_json:
        print_json("aging", {**report.as_json(), "currency": pol.file.currency})
        return
    data = report.as_json()
    table = titled_table(
        "bucket",
        "accounts",
        "balance",
        "overdue balance",
        title=tr("Aging on {day}").format(day=day),
    )
    for b in data["buckets"]:
        table.add_row(b["bucket"], f"{b['accounts']:,}", b["balance"], b["overdue_balance"])
    console.print(table)
    rolls = data["roll_rates"]
    if rolls:
        rt = titled_table(
            "from",
            "to",
            "accounts",
            "rate",
            title=tr("Roll rates {start} → {end}").format(start=rolls["from"], end=rolls["to"]),
        )
        for r in rolls["forward"] + rolls["cures"]:
            rt.add_row(str(r["from"]), str(r["to"]), f"{r['accounts']:,}", str(r["rate"]))
        console.print(rt)
    console.print(f"stored {report.stored_rows:,} snapshot rows; policy {report.policy_version}")
