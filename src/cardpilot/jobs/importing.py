"""The import job: read a portfolio (UCI or generic layout), check it, load it, record the run.

Good rows load and bad rows go to a rejects file; a second run of the same input adds nothing.
The files are opened and their headers checked before the store is touched, and the load is
one transaction: an import that fails (or is killed) adds nothing, its rejects file is removed,
and a store file it created for nothing is removed too. Progress is reported through a callback
so the CLI can draw a bar and a benchmark can stay quiet.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from cardpilot.audit.chain import AuditEntry
from cardpilot.config import Settings, get_settings
from cardpilot.ingest.crypt import EncryptionPool
from cardpilot.ingest.encodings import DEFAULT_ENCODING, check_encoding
from cardpilot.ingest.generic import STORE_TABLE, TABLES, Defaults, GenericReader, TableChunk
from cardpilot.ingest.problems import SourceError
from cardpilot.ingest.rejects import RejectsWriter, default_rejects_path
from cardpilot.ingest.uci import CURRENCY as UCI_CURRENCY
from cardpilot.ingest.uci import UciRead, read_uci
from cardpilot.jobs.import_stream import read_ahead, timed_chunks
from cardpilot.ledger import derive
from cardpilot.privacy import FieldCipher
from cardpilot.store import import_runs, loading
from cardpilot.store import ledger as store_ledger
from cardpilot.store.arrow_loading import ArrowStoreLoader
from cardpilot.store.audit import default_actor, record_audit
from cardpilot.store.bulk import supports_bulk
from cardpilot.store.db import (
    LOCK_TIMEOUT_SECONDS,
    StoreBusyError,
    busy_error,
    make_engine,
    open_store,
    remove_sqlite_file,
    sqlite_file,
)
from cardpilot.store.loading import StageTimes, StoreLoader

__all__ = [
    "LAYOUTS",
    "ImportResult",
    "SourceError",
    "StoreBusyError",
    "import_portfolio",
    "rejects_preview",
]

Layout = Literal["uci", "generic"]
LAYOUTS: tuple[str, ...] = ("uci", "generic")

# (stage, rows done in that stage, rows in the stage when known)
ProgressCallback = Callable[[str, int, int | None], None]
Loader = StoreLoader | ArrowStoreLoader

# Customers from which personal fields are encrypted in worker processes (EncryptionPool) rather
# than on the reading thread: below this, starting a worker costs more than it saves.
ENCRYPT_IN_WORKERS_MIN_ROWS = 50_000

# Chunks checked ahead of the one loading (each at most a Parquet batch or a CSV block): the
# reader keeps going while the loader writes or rebuilds indexes.
READ_AHEAD_CHUNKS = 3

_COUNTED = {
    "customers": "customers",
    "accounts": "accounts",
    "statements": "statements",
    "transactions": "transactions",
    "performance_labels": "labels",
    "ledger_postings": "postings",
}


@dataclass
class ImportResult:
    """What one run added (not what the input held), what it rejected, and how long it took."""

    customers: int = 0
    accounts: int = 0
    statements: int = 0
    transactions: int = 0
    labels: int = 0
    limit_history: int = 0  # opening-limit rows started for accounts with no history yet
    postings: int = 0  # ledger postings added (docs/ledger.md), opening balances included
    rejected: int = 0  # rows, not fields
    rejects_file: str | None = None
    rows_read: int = 0
    seconds: float = 0.0
    run_id: int | None = None
    source: str = ""
    layout: str = ""
    database: str = ""
    read: dict[str, int] = field(default_factory=dict)  # rows read per table
    # Earlier runs whose process ended without finishing them, marked interrupted by this one.
    interrupted_runs: list[int] = field(default_factory=list)
    # Wall seconds per stage, to show where an import spends its time: ``read:T`` (reading and
    # checking table T, on the reading thread, overlapped with loading), ``wait:T`` (the loader
    # idle, waiting for T's next chunk), ``prepare:T``/``write:T`` (rows into the store),
    # ``begin_bulk:T``/``end_bulk:T`` (indexes and keys off and rebuilt, with the parts named
    # ``indexes:T``, ``primary_key:T``, ``foreign_keys:T``), ``commit``, ``limit_history``,
    # ``open`` (schema check and run record), ``close`` and ``finish``.
    stages: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class _Run:
    """One import as it goes: its input, its store, and what it has done so far."""

    source: Path
    layout: str
    url: str
    settings: Settings
    writer: RejectsWriter
    result: ImportResult
    times: StageTimes
    progress: ProgressCallback | None
    lock_timeout: float


def import_portfolio(
    source: str | Path,
    *,
    layout: Layout | str,
    database_url: str | None = None,
    rejects_path: str | Path | None = None,
    progress: ProgressCallback | None = None,
    settings: Settings | None = None,
    encoding: str = DEFAULT_ENCODING,
    lock_timeout: float | None = None,
    today: dt.date | None = None,
) -> ImportResult:
    """Import ``source`` into the store at ``database_url`` (default: the configured store).

    ``encoding``: of CSV files (UTF-8 by default). ``lock_timeout``: seconds to wait for another
    process's lock on the store before failing with ``StoreBusyError``. ``today``: the import
    date plausibility is judged against (default: today in the configured time zone). Raises
    ``SourceError`` for an input that cannot be imported at all (nothing is then written).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    settings = settings or get_settings()
    url = database_url or settings.resolved_database_url()
    source = Path(source)
    encoding = check_encoding(encoding)
    today = today or dt.datetime.now(ZoneInfo(settings.timezone)).date()
    rejects_file = Path(rejects_path) if rejects_path else default_rejects_path(settings.home)
    run = _Run(
        source=source,
        layout=layout,
        url=url,
        settings=settings,
        writer=RejectsWriter(rejects_file),
        result=ImportResult(source=str(source), layout=layout, database=_safe_url(url)),
        times=StageTimes(),
        progress=progress,
        lock_timeout=LOCK_TIMEOUT_SECONDS if lock_timeout is None else lock_timeout,
    )
    started = time.perf_counter()
    # The input is read (UCI) or opened and checked (generic) before the store is touched.
    with run.times.timed("read:uci" if layout == "uci" else "open"):
        uci = read_uci(source, encoding=encoding) if layout == "uci" else None
        generic = None if uci is not None else _generic_reader(source, settings, encoding, today)
    store_file = sqlite_file(url)
    new_store = store_file is not None and not store_file.exists()
    try:
        _load_and_record(run, uci, generic)
    except BaseException as exc:
        run.writer.discard()
        busy = busy_error(exc, url, run.lock_timeout)
        # A busy store is another process's store too, even one both of them just created.
        if new_store and store_file is not None and busy is None:
            _remove_unused_store(url, store_file, run.result.run_id)
        if busy is not None:
            raise busy from exc
        raise
    run.result.seconds = round(time.perf_counter() - started, 3)
    run.result.stages = run.times.as_dict()
    return run.result


def _generic_reader(
    source: Path, settings: Settings, encoding: str, today: dt.date
) -> GenericReader:
    return GenericReader(
        source,
        cipher=lambda: FieldCipher.from_settings(settings),
        defaults=Defaults(
            currency=settings.currency, locale=settings.locale, timezone=settings.timezone
        ),
        encoding=encoding,
        today=today,
    )


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _load_and_record(run: _Run, uci: UciRead | None, generic: GenericReader | None) -> None:
    """Open the store, record the run, load in one transaction, record what it added."""
    times, result = run.times, run.result
    with times.timed("open"):
        engine = open_store(run.url, lock_timeout=run.lock_timeout)
    try:
        with times.timed("open"):
            result.interrupted_runs = import_runs.mark_interrupted_runs(engine)
            result.run_id = import_runs.start_run(
                engine, source=result.source, layout=result.layout
            )
        try:
            _load(run, engine, uci, generic)
        except BaseException as exc:
            _record_failure(run, engine, exc)
            raise
        result.rejected = run.writer.rows
        result.rejects_file = str(run.writer.path) if run.writer.records else None
        with times.timed("finish"):
            import_runs.finish_run(
                engine,
                result.run_id,
                added={name: getattr(result, name) for name in import_runs.ADDED_COLUMNS},
                rejected=result.rejected,
                rejects_file=result.rejects_file,
            )
            audit_import(engine, result)
    finally:
        engine.dispose()


def audit_import(engine: Engine, result: ImportResult) -> None:
    """The import's audit record: what it read and added (the rows themselves are the
    store's; the import is one transaction, so a failed one changed nothing to record)."""
    added = {name: getattr(result, name) for name in import_runs.ADDED_COLUMNS}
    payload = {
        "run_id": result.run_id,
        "source": Path(result.source).name,
        "layout": result.layout,
        "read": dict(result.read),
        "added": added,
        "rejected": result.rejected,
    }
    subject = f"import_run:{result.run_id}"
    record_audit(engine, AuditEntry(default_actor(), "import.run", subject, payload, after=added))


def _record_failure(run: _Run, engine: Engine, exc: BaseException) -> None:
    """Mark the run failed (best effort: the store may be what failed)."""
    if run.result.run_id is None or not isinstance(exc, Exception):
        return
    with suppress(Exception):
        import_runs.fail_run(engine, run.result.run_id, f"{type(exc).__name__}: {exc}")


def _remove_unused_store(url: str, path: Path, run_id: int | None) -> None:
    """Remove a SQLite store this import created, unless something else has used it since."""
    with suppress(Exception):
        engine = make_engine(url, lock_timeout=0)
        try:
            unused = import_runs.other_runs(engine, run_id or -1) == 0
        finally:
            engine.dispose()
        if unused:
            remove_sqlite_file(path)


def _load(run: _Run, engine: Engine, uci: UciRead | None, generic: GenericReader | None) -> None:
    loader: Loader
    if supports_bulk(run.url):
        # A SQLite file must not be open through SQLAlchemy's SQLite and ADBC's own copy
        # at once (store/db.py, sqlite_bulk_access): the engine lets go of its connections
        # for the load and opens a new one for the run record afterwards.
        engine.dispose()
        loader = ArrowStoreLoader(run.url, run.times, lock_timeout=run.lock_timeout)
    else:
        loader = StoreLoader(engine)
    with loader:
        if uci is not None:
            _load_uci(run, uci, loader)
        elif generic is not None:
            generic.store_lookup = loader.existing
            _load_generic_with_workers(run, generic, loader)
        with run.times.timed("limit_history"):
            run.result.limit_history = _open_limit_history(loader, run.result)
        if generic is not None and not (generic.files["transactions"] or generic.files["payments"]):
            # Statements only: the ledger's money is what the statements imply (docs/ledger.md).
            with run.times.timed("statement_postings"):
                run.result.postings += loader.run_insert(
                    store_ledger.statement_postings_sql(loader.backend)
                )
        with run.times.timed("opening_balances"):
            run.result.postings += loader.run_insert(
                store_ledger.opening_balances_sql(loader.backend)
            )
        with run.times.timed("finish_fresh") if loader_is_fresh(loader) else nullcontext():
            loader.finish()


def _load_uci(run: _Run, read: UciRead, loader: Loader) -> None:
    result, times, progress = run.result, run.times, run.progress
    result.rows_read = read.rows_read
    result.read = {"rows": read.rows_read}
    run.writer.write(read.rejects)
    with times.timed("derive:ledger_postings"):
        postings = derive.from_uci_statements(read.statements, run.settings.timezone, UCI_CURRENCY)
    tables = {
        "customers": read.customers,
        "accounts": read.accounts,
        "statements": read.statements,
        "performance_labels": read.labels,
        "ledger_postings": postings,
    }
    with times.timed("begin_fresh"):
        fresh = _begin_fresh(loader, {t: f.height for t, f in tables.items()})
    for table, frame in tables.items():
        if progress:
            progress(_COUNTED[table], 0, frame.height)
        if not fresh:
            with times.timed(f"begin_bulk:{table}"):
                loader.begin_bulk(table, frame.height)
        _add(result, table, loader.load(table, frame))
        if not fresh:
            with times.timed(f"end_bulk:{table}"):
                loader.end_bulk(table)
        if progress:
            progress(_COUNTED[table], frame.height, frame.height)


def _load_generic_with_workers(run: _Run, reader: GenericReader, loader: Loader) -> None:
    customers = reader.total_rows("customers") if reader.files["customers"] else 0
    pool: EncryptionPool | None = None
    if customers is not None and customers >= ENCRYPT_IN_WORKERS_MIN_ROWS:
        cipher = FieldCipher.from_settings(run.settings)
        pool = EncryptionPool(cipher.ring, cipher.blind_key)
    with pool if pool is not None else nullcontext():
        reader.encryptor = pool
        _load_generic(
            reader, loader, run.writer, run.result, run.progress, run.times, run.settings.timezone
        )


def _begin_fresh(loader: Loader, totals: Mapping[str, int | None]) -> bool:
    """One bulk load of every table when the store is empty and the import is large."""
    known = [n for n in totals.values() if n is not None]
    if not isinstance(loader, ArrowStoreLoader) or not known:
        return False
    if max(known) < loading.BULK_MIN_ROWS:
        return False
    largest = max(known)
    return loader.begin_fresh({t: n if n is not None else largest for t, n in totals.items()})


def _load_generic(
    reader: GenericReader,
    loader: Loader,
    writer: RejectsWriter,
    result: ImportResult,
    progress: ProgressCallback | None,
    times: StageTimes | None = None,
    zone: str = "Asia/Shanghai",
) -> None:
    """Load every table's chunks as the reading thread delivers them, and their postings.

    A fresh load (``ArrowStoreLoader.begin_fresh``) takes chunks in any order: customers whose
    personal fields are still being encrypted wait aside while accounts and statements load,
    and go in as soon as their ciphertext is ready. Otherwise tables load parents first, each
    in its own bulk load when large.
    """
    times = times if times is not None else StageTimes()
    tables = [t for t in TABLES if reader.files[t]]
    totals = {t: reader.total_rows(t) for t in tables}
    done = dict.fromkeys(tables, 0)
    current: str | None = None
    with times.timed("begin_fresh"):
        fresh = _begin_fresh(loader, {STORE_TABLE[t]: totals[t] for t in tables})
    waiting: list[TableChunk] = []  # fresh load: chunks whose encryption is still running

    def load(chunk: TableChunk) -> None:
        with times.timed(f"encrypt_wait:{chunk.table}") if chunk.pending else nullcontext():
            rows = chunk.rows()
        _add(
            result,
            chunk.store_table,
            loader.load(chunk.store_table, rows, presorted=chunk.presorted),
        )
        with times.timed(f"derive:{chunk.table}"):
            postings = chunk_postings(chunk, rows, zone)
        if postings is not None:
            _add(result, "ledger_postings", loader.load("ledger_postings", postings))

    def switch_table(table: str) -> None:
        if current is not None and not fresh:
            with times.timed(f"end_bulk:{STORE_TABLE[current]}"):
                loader.end_bulk(STORE_TABLE[current])
        if not fresh:
            with times.timed(f"begin_bulk:{STORE_TABLE[table]}"):
                loader.begin_bulk(STORE_TABLE[table], totals[table])
        if progress:
            progress(table, 0, totals[table])

    # ``read:T``: the reading thread reading and checking; ``wait:T``: the loader idle till then.
    read = timed_chunks((c for t in tables for c in reader.chunks(t)), times, "read")
    for chunk in timed_chunks(read_ahead(read, depth=READ_AHEAD_CHUNKS), times, "wait"):
        if chunk.table != current:
            switch_table(chunk.table)
            current = chunk.table
        writer.write(chunk.rejects)
        if fresh and not chunk.ready:
            waiting.append(chunk)
        else:
            load(chunk)
        while waiting and waiting[0].ready:
            load(waiting.pop(0))
        done[chunk.table] += chunk.rows_read
        result.rows_read += chunk.rows_read
        result.read[chunk.table] = done[chunk.table]
        if progress:
            progress(chunk.table, done[chunk.table], totals[chunk.table])
    for chunk in waiting:
        load(chunk)
    if current is not None and not fresh:
        with times.timed(f"end_bulk:{STORE_TABLE[current]}"):
            loader.end_bulk(STORE_TABLE[current])


def chunk_postings(chunk: TableChunk, rows: pl.DataFrame, zone: str) -> pl.DataFrame | None:
    """The ledger postings of a generic-layout chunk's stored rows (None: the table has none).

    Statements post nothing: the check reconciles against the statements themselves, and each
    account's first one fixes its opening balance (``store.ledger.opening_balances_sql``)."""
    if chunk.store_table == "transactions":
        return derive.from_transactions(rows, zone)
    return None


def loader_is_fresh(loader: Loader) -> bool:
    return isinstance(loader, ArrowStoreLoader) and loader.fresh


def _open_limit_history(loader: Loader, result: ImportResult) -> int:
    """Every account's limit history starts with the limit it was opened with."""
    if isinstance(loader, ArrowStoreLoader):
        return loader.open_limit_history(result.accounts)
    return loader.open_limit_history()


def _add(result: ImportResult, table: str, added: int) -> None:
    name = _COUNTED[table]
    setattr(result, name, getattr(result, name) + added)


def rejects_preview(path: str | Path, limit: int = 10) -> pl.DataFrame:
    """The first reject records of a run, for the CLI to show."""
    return pl.read_csv(path, n_rows=limit, infer_schema=False)
