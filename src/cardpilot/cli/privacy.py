"""``cardpilot privacy``: which key protects what (status), and re-encryption (rotate)."""

from __future__ import annotations

from typing import Any

import typer

from cardpilot.cli import app
from cardpilot.cli.common import DATABASE_OPTION, open_engine
from cardpilot.cli.output import JSON_OPTION, console, err_console, fail, print_json
from cardpilot.cli.progress import TrackedProgress
from cardpilot.config import get_settings

privacy_app = typer.Typer(
    help="Personal-data keys: what each key still protects, and rotating to the active key.",
    no_args_is_help=True,
)
app.add_typer(privacy_app, name="privacy")


def settings_cipher() -> Any:
    """The configured ``FieldCipher``; a key set-up error ends the command in one line."""
    from cardpilot.privacy import FieldCipher, PiiKeyError

    try:
        return FieldCipher.from_settings(get_settings())
    except PiiKeyError as exc:
        raise fail(str(exc)) from None


def checked_cipher(engine: Any) -> Any:
    """The configured cipher, refused (one line) when the ring lacks a key the store uses."""
    from cardpilot.jobs.privacy import require_ring_covers_store
    from cardpilot.privacy import PiiKeyError

    cipher = settings_cipher()
    try:
        require_ring_covers_store(engine, cipher)
    except PiiKeyError as exc:
        raise fail(str(exc)) from None
    return cipher


@privacy_app.command()
def status(database: str | None = DATABASE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Count the values under each key, per table and column; exit 1 if a key is missing."""
    from cardpilot.jobs.privacy import key_status, missing_key_message

    cipher = settings_cipher()
    engine = open_engine(database)
    try:
        result = key_status(engine, cipher)
    finally:
        engine.dispose()
    if as_json:
        print_json("privacy status", result.as_json())
    else:
        _print_status(result)
    if result.missing_keys:
        err_console.print(
            f"[bold red]error:[/] {missing_key_message(result.missing_keys)}", soft_wrap=True
        )
        raise typer.Exit(1)


def _print_status(result: Any) -> None:
    console.print(
        f"active key {result.active_key}; ring {', '.join(result.ring)}; "
        f"blind-index key {result.blind_index_key or '(not set)'}"
    )
    for c in result.counts:
        marks = []
        if c.kind == "ciphertext" and c.key_id not in result.ring:
            marks.append("NOT ON THE RING")
        elif c.kind == "ciphertext" and c.key_id != result.active_key:
            marks.append("to re-encrypt")
        elif c.kind == "blind_index" and c.key_id != result.blind_index_key:
            marks.append("to rebuild")
        note = f"  ({', '.join(marks)})" if marks else ""
        console.print(f"  {c.table}.{c.column}: {c.values:,} under {c.key_id}{note}")
    console.print(
        f"values under other keys: {result.under_other_keys:,}; "
        f"blind-index values to rebuild: {result.stale_blind_index:,}; "
        f"keys that can leave the ring: {', '.join(result.retirable) or 'none'}"
    )


@privacy_app.command()
def rotate(
    database: str | None = DATABASE_OPTION,
    batch_size: int = typer.Option(
        1000, "--batch-size", min=1, help="Customers re-encrypted per transaction."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Re-encrypt every value under the active key (and rebuild blind indexes made under
    another blind-index key), one transaction per batch; safe to stop and run again."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

    from cardpilot.jobs.privacy import rotate as rotate_keys
    from cardpilot.privacy import PiiKeyError

    cipher = settings_cipher()
    engine = open_engine(database)
    try:
        with TrackedProgress(
            TextColumn("[bold]rotate"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console,
            transient=as_json,
        ) as bar:
            task = bar.add_task("rotate", total=None)
            result = rotate_keys(
                engine,
                cipher,
                batch_size=batch_size,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except PiiKeyError as exc:
        raise fail(str(exc)) from None
    finally:
        engine.dispose()
    if as_json:
        print_json("privacy rotate", result.as_json())
        return
    after = result.after
    assert after is not None  # set when the rotation returns
    console.print(
        f"re-encrypted {result.rows_rewritten:,} of {result.rows_to_rewrite:,} customers in "
        f"{result.batches} batches under key {result.active_key} (blind index: "
        f"{result.blind_index_key}); values under other keys now {after.under_other_keys:,}; "
        f"keys that can leave the ring: {', '.join(after.retirable) or 'none'}"
    )
