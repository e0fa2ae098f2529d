"""``cardpilot audit verify|export``: check the audit chain, and hand a period's records out."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import typer

from cardpilot.cli import app
from cardpilot.cli.common import DATABASE_OPTION, open_engine
from cardpilot.cli.output import JSON_OPTION, console, err_console, fail, print_json

audit_app = typer.Typer(
    help="The audit trail: a hash chain of every state change.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(database: str | None = DATABASE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Check the whole chain; exit 1 naming the first record that does not hold."""
    from cardpilot.store.audit import verify_chain

    db = open_engine(database)
    try:
        checked, broken = verify_chain(db)
    finally:
        db.dispose()
    if as_json:
        print_json(
            "audit verify",
            {"ok": broken is None, "checked": checked, "broken": broken and broken.as_json()},
        )
    elif broken is None:
        console.print(f"audit chain holds: {checked:,} records checked")
    else:
        err_console.print(
            f"[bold red]audit chain broken at record {broken.seq}:[/] {broken.reason} "
            f"({checked:,} records before it hold)"
        )
    if broken is not None:
        raise typer.Exit(1)


def _day(value: str, option: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} {value!r}: give a date as YYYY-MM-DD") from None
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


@audit_app.command("export")
def export(
    since: str = typer.Option(..., "--from", help="First day (YYYY-MM-DD, UTC), included."),
    until: str = typer.Option(..., "--to", help="Last day (YYYY-MM-DD, UTC), included."),
    out: Path | None = typer.Option(None, "--out", help="Write here instead of stdout."),
    database: str | None = DATABASE_OPTION,
) -> None:
    """The records of a period as JSON lines, in chain order, with their hashes (so a reader
    can check the links between them)."""
    from cardpilot.store.audit import iter_records

    start = _day(since, "--from")
    end = _day(until, "--to") + dt.timedelta(days=1)
    if end <= start:
        raise fail(f"--to {until} is before --from {since}")
    db = open_engine(database)
    stream = out.open("w", encoding="utf-8") if out is not None else sys.stdout
    written = 0
    try:
        for record in iter_records(db, since=start, until=end):
            stream.write(json.dumps(record.as_json(), ensure_ascii=False) + "\n")
            written += 1
    finally:
        db.dispose()
        if out is not None:
            stream.close()
    if out is not None:
        console.print(f"{written:,} audit records written to {out}")
