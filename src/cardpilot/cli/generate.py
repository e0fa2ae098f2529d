"""``cardpilot generate``: write a synthetic portfolio in the generic Parquet layout."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

from cardpilot.cli import app
from cardpilot.cli.output import JSON_OPTION, console, err_console, fail, print_json
from cardpilot.cli.progress import TrackedProgress
from cardpilot.synth.generate import (
    DEFAULT_CHUNK,
    GenerateError,
    GenerateOptions,
    generate_portfolio,
)


def _end_cycle(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"--end-cycle {value!r}: expected a date YYYY-MM-DD (a month end)") from exc


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Output folder (generic layout).")],
    accounts: int = typer.Option(10_000, "--accounts", "-n", help="Number of accounts."),
    seed: int = typer.Option(42, "--seed", help="Random seed: same seed, same portfolio."),
    months: int = typer.Option(12, "--months", help="Statement cycles per account."),
    no_transactions: bool = typer.Option(
        False, "--no-transactions", help="Skip transactions (large benchmarks)."
    ),
    chunk_size: int = typer.Option(
        DEFAULT_CHUNK, "--chunk-size", help="Accounts per Parquet part (bounds memory)."
    ),
    end_cycle: str | None = typer.Option(
        None, "--end-cycle", help="Last cycle date (a month end); default: last month's end."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace tables already in the output folder."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Finish an interrupted run (same options) in the same folder."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Generate a realistic synthetic portfolio fitted to the UCI card data (no real records)."""
    options = GenerateOptions(
        accounts=accounts,
        out=out,
        seed=seed,
        months=months,
        transactions=not no_transactions,
        chunk_size=chunk_size,
        end_cycle=_end_cycle(end_cycle),
        overwrite=overwrite,
        resume=resume,
    )
    if accounts < 1 or chunk_size < 1 or not 1 <= months <= 60:
        raise fail("--accounts and --chunk-size must be at least 1, --months between 1 and 60")
    progress = TrackedProgress(
        TextColumn("generating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("accounts"),
        TimeElapsedColumn(),
        console=err_console,
        transient=as_json,
    )
    try:
        with progress:
            task = progress.add_task("generate", total=accounts)
            result = generate_portfolio(
                options, on_progress=lambda done: progress.update(task, completed=done)
            )
    except GenerateError as exc:
        raise fail(str(exc)) from exc
    payload = result.as_dict()
    payload["accounts_per_s"] = round(accounts / result.seconds) if result.seconds else None
    if as_json:
        print_json("generate", payload)
        return
    rows = ", ".join(f"{count:,} {name}" for name, count in result.rows.items())
    console.print(
        f"[bold]Wrote[/] {rows} to {result.out} in {result.seconds:.1f} s "
        f"(cycles to {result.end_cycle.isoformat()}, seed {result.seed})"
    )
