"""Portfolio commands: ``cardpilot import`` and ``cardpilot db upgrade``.

``generate`` and ``summary`` live in their own modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    TaskID,
)

from cardpilot.cli import app
from cardpilot.cli.common import DATABASE_OPTION, database_url
from cardpilot.cli.output import JSON_OPTION, console, err_console, fail, print_json
from cardpilot.cli.progress import bar

if TYPE_CHECKING:
    from cardpilot.jobs.importing import ImportResult, ProgressCallback

LAYOUTS = ("uci", "generic")


REJECTS_OPTION = typer.Option(
    None, "--rejects", help="Where to write the rejects CSV; default <home>/rejects/."
)
ENCODING_OPTION = typer.Option(
    "utf-8",
    "--encoding",
    metavar="ENCODING",
    help="Text encoding of CSV files: utf-8 (default; a byte-order mark is fine), gb18030, "
    "gbk, big5.",
)
LOCK_TIMEOUT_OPTION = typer.Option(
    30.0,
    "--lock-timeout",
    metavar="SECONDS",
    help="How long to wait while another process holds the store's lock.",
)


@app.command("import")
def import_(
    path: Annotated[
        Path, typer.Argument(help="A generic-layout folder, or a UCI CSV file with --format uci.")
    ],
    layout: str | None = typer.Option(
        None,
        "--format",
        help="uci or generic; default: generic for a folder, uci for a single CSV file.",
    ),
    database: str | None = DATABASE_OPTION,
    rejects: Path | None = REJECTS_OPTION,
    encoding: str = ENCODING_OPTION,
    lock_timeout: float = LOCK_TIMEOUT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Import a portfolio into the store: good rows load, bad rows go to a rejects file.

    Re-running an import adds nothing twice. An import is all or nothing: one that fails adds
    nothing. Personal fields are encrypted before storage.
    """
    from cardpilot.jobs.importing import SourceError, StoreBusyError, import_portfolio
    from cardpilot.privacy import PiiKeyError

    chosen = layout or ("generic" if path.is_dir() else "uci")
    if chosen not in LAYOUTS:
        raise fail(f"--format {chosen!r} is not known; use one of: {', '.join(LAYOUTS)}")
    if not path.exists():
        raise fail(f"{path}: no such file or folder")

    def run(progress: ProgressCallback | None = None) -> ImportResult:
        return import_portfolio(
            path,
            layout=chosen,
            database_url=database_url(database),
            rejects_path=rejects,
            encoding=encoding,
            lock_timeout=lock_timeout,
            progress=progress,
        )

    try:
        if as_json:
            result = run()
        else:
            with _ImportProgress() as bars:
                result = run(bars.update)
    except (SourceError, StoreBusyError, PiiKeyError) as exc:
        raise fail(f"{exc}") from exc
    if as_json:
        run_id = None if result.run_id is None else str(result.run_id)
        print_json("import", {**result.as_json(), "run_id": run_id})
    else:
        _print_import(result)


class _ImportProgress:
    """A Rich bar per table on stderr, driven by the job's progress callback."""

    def __init__(self) -> None:
        self._progress = bar(err_console, label_width=13)
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _ImportProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)  # erased when the import failed

    def update(self, stage: str, done: int, total: int | None) -> None:
        task = self._tasks.get(stage)
        if task is None:
            task = self._progress.add_task(stage, total=total)
            self._tasks[stage] = task
        self._progress.update(task, completed=done, total=total)


def _print_import(result: ImportResult) -> None:
    rate = result.statements / result.seconds if result.seconds else 0.0
    console.print(
        f"[bold green]Imported[/] {result.source} ({result.layout}) in {result.seconds:.1f} s: "
        f"{result.customers:,} customers, {result.accounts:,} accounts, "
        f"{result.statements:,} statements, {result.transactions:,} transactions, "
        f"{result.labels:,} labels added ({rate:,.0f} statements/s)."
    )
    if result.rejected:
        console.print(
            f"[bold yellow]{result.rejected:,} rows rejected[/]; "
            f"file, row, field and reason in {result.rejects_file}"
        )
    else:
        console.print("No rows rejected.")


db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(database: str | None = DATABASE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Create the store or bring its schema to this version of cardpilot."""
    from cardpilot.store.db import current_revision, make_engine, upgrade

    url = database_url(database)
    upgrade(url)
    engine = make_engine(url)
    try:
        revision = current_revision(engine)
    finally:
        engine.dispose()
    if as_json:
        print_json("db upgrade", {"revision": revision})
    else:
        console.print(f"Store at revision [bold]{revision}[/].")
