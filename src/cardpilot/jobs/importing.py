"""The import job: read a portfolio (UCI or generic layout), check it, load it, record the run.

Good rows load and bad rows go to a rejects file; a second run of the same input adds nothing.
Progress is reported through a callback so the CLI can draw a bar and a benchmark can stay quiet.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl
from sqlalchemy import Engine, update

from cardpilot.config import Settings, get_settings
from cardpilot.ingest import loader as loader_module
from cardpilot.ingest.arrow_loader import ArrowStoreLoader
from cardpilot.ingest.crypt import EncryptionPool
from cardpilot.ingest.generic import STORE_TABLE, TABLES, Defaults, GenericReader, TableChunk
from cardpilot.ingest.loader import StageTimes, StoreLoader
from cardpilot.ingest.rejects import RejectsWriter, default_rejects_path
from cardpilot.ingest.uci import read_uci
from cardpilot.privacy import FieldCipher, KeyRing
from cardpilot.privacy.cipher import load_or_create_local_ring
from cardpilot.store.bulk import supports_bulk
from cardpilot.store.db import open_store, unit_of_work
from cardpilot.store.models import ImportRun

Layout = Literal["uci", "generic"]
LAYOUTS: tuple[str, ...] = ("uci", "generic")

# (stage, rows done in that stage, rows in the stage when known)
ProgressCallback = Callable[[str, int, int | None], None]

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
    rejected: int = 0  # rows, not fields
    rejects_file: str | None = None
    rows_read: int = 0
    seconds: float = 0.0
    run_id: int | None = None
    source: str = ""
    layout: str = ""
    database: str = ""
    read: dict[str, int] = field(default_factory=dict)  # rows read per table
    # Wall seconds per stage, to show where an import spends its time: ``read:T`` (reading and
    # checking table T, on the reading thread, overlapped with loading), ``wait:T`` (the loader
    # idle, waiting for T's next chunk), ``prepare:T``/``write:T`` (rows into the store),
    # ``begin_bulk:T``/``end_bulk:T`` (indexes and keys off and rebuilt, with the parts named
    # ``indexes:T``, ``primary_key:T``, ``foreign_keys:T``, ``commit:T``), ``limit_history``,
    # ``open`` (schema check and run record), ``close`` and ``finish``.
    stages: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def import_portfolio(
    source: str | Path,
    *,
    layout: Layout | str,
    database_url: str | None = None,
    rejects_path: str | Path | None = None,
    progress: ProgressCallback | None = None,
    settings: Settings | None = None,
) -> ImportResult:
    """Import ``source`` into the store at ``database_url`` (default: the configured store)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    settings = settings or get_settings()
    url = database_url or settings.resolved_database_url()
    source = Path(source)
    rejects_file = Path(rejects_path) if rejects_path else default_rejects_path(settings.home)
    writer = RejectsWriter(rejects_file)
    started = time.perf_counter()
    result = ImportResult(source=str(source), layout=layout, database=_safe_url(url))

    times = StageTimes()
    with times.timed("open"):
        engine = open_store(url)
    try:
        with times.timed("open"):
            run_id = _start_run(engine, result)
        result.run_id = run_id
        loader: StoreLoader | ArrowStoreLoader
        if supports_bulk(url):
            # A SQLite file must not be open through SQLAlchemy's SQLite and ADBC's own copy
            # at once (store/db.py, sqlite_bulk_access): the engine lets go of its connections
            # for the load and opens a new one for the run record afterwards.
            engine.dispose()
            loader = ArrowStoreLoader(url, times)
        else:
            loader = StoreLoader(engine)
        with loader:
            if layout == "uci":
                _import_uci(source, loader, writer, result, progress, times)
            else:
                _import_generic(source, loader, writer, result, progress, settings, times)
            with times.timed("limit_history"):
                result.limit_history = _open_limit_history(loader, result)
            if isinstance(loader, ArrowStoreLoader) and loader.fresh:
                with times.timed("finish_fresh"):
                    loader.finish_fresh()
        result.rejected = writer.rows
        result.rejects_file = str(writer.path) if writer.records else None
        with times.timed("finish"):
            _finish_run(engine, run_id, result)
        result.seconds = round(time.perf_counter() - started, 3)
    finally:
        engine.dispose()
    result.stages = times.as_dict()
    return result


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _import_uci(
    source: Path,
    loader: StoreLoader | ArrowStoreLoader,
    writer: RejectsWriter,
    result: ImportResult,
    progress: ProgressCallback | None,
    times: StageTimes,
) -> None:
    with times.timed("read:uci"):
        read = read_uci(source)
    result.rows_read = read.rows_read
    result.read = {"rows": read.rows_read}
    writer.write(read.rejects)
    for table, frame in (
        ("customers", read.customers),
        ("accounts", read.accounts),
        ("statements", read.statements),
        ("performance_labels", read.labels),
    ):
        if progress:
            progress(_COUNTED[table], 0, frame.height)
        with times.timed(f"begin_bulk:{table}"):
            loader.begin_bulk(table, frame.height)
        _add(result, table, loader.load(table, frame))
        with times.timed(f"end_bulk:{table}"):
            loader.end_bulk(table)
        if progress:
            progress(_COUNTED[table], frame.height, frame.height)


def _import_generic(
    source: Path,
    loader: StoreLoader | ArrowStoreLoader,
    writer: RejectsWriter,
    result: ImportResult,
    progress: ProgressCallback | None,
    settings: Settings,
    times: StageTimes,
) -> None:
    reader = GenericReader(
        source,
        store_lookup=loader.existing,
        cipher=lambda: FieldCipher.from_settings(settings),
        defaults=Defaults(
            currency=settings.currency, locale=settings.locale, timezone=settings.timezone
        ),
    )
    customers = reader.total_rows("customers") if reader.files["customers"] else 0
    pool: EncryptionPool | None = None
    if customers is not None and customers >= ENCRYPT_IN_WORKERS_MIN_ROWS:
        pool = EncryptionPool(_key_ring(settings))
    with pool if pool is not None else nullcontext():
        reader.encryptor = pool
        _load_generic(reader, loader, writer, result, progress, times)


def _key_ring(settings: Settings) -> KeyRing:
    """The ring ``FieldCipher.from_settings`` would use, for the encryption workers."""
    if settings.pii_keys:
        return KeyRing.parse(settings.pii_keys, settings.pii_active_key)
    return load_or_create_local_ring(settings.home)


def _timed(chunks: Iterator[TableChunk], times: StageTimes, stage: str) -> Iterator[TableChunk]:
    """``chunks``, the time spent getting each added to ``stage:T`` (T: its table, or ``end``)."""
    while True:
        started = time.perf_counter()
        chunk = next(chunks, None)
        times.add(f"{stage}:{chunk.table if chunk else 'end'}", time.perf_counter() - started)
        if chunk is None:
            return
        yield chunk


def _begin_fresh(loader: StoreLoader | ArrowStoreLoader, totals: Mapping[str, int | None]) -> bool:
    """One bulk load of every table when the store is empty and the import is large."""
    known = [n for n in totals.values() if n is not None]
    if not isinstance(loader, ArrowStoreLoader) or not known:
        return False
    if max(known) < loader_module.BULK_MIN_ROWS:
        return False
    largest = max(known)
    return loader.begin_fresh({t: n if n is not None else largest for t, n in totals.items()})


def _load_generic(
    reader: GenericReader,
    loader: StoreLoader | ArrowStoreLoader,
    writer: RejectsWriter,
    result: ImportResult,
    progress: ProgressCallback | None,
    times: StageTimes | None = None,
) -> None:
    """Load every table's chunks as the reading thread delivers them.

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
        added = loader.load(chunk.store_table, rows, presorted=chunk.presorted)
        _add(result, chunk.store_table, added)

    # ``read:T``: the reading thread reading and checking; ``wait:T``: the loader idle till then.
    read = _timed((c for t in tables for c in reader.chunks(t)), times, "read")
    for chunk in _timed(_read_ahead(read, depth=READ_AHEAD_CHUNKS), times, "wait"):
        table = chunk.table
        if table != current:
            if current is not None and not fresh:
                with times.timed(f"end_bulk:{STORE_TABLE[current]}"):
                    loader.end_bulk(STORE_TABLE[current])
            if not fresh:
                with times.timed(f"begin_bulk:{chunk.store_table}"):
                    loader.begin_bulk(chunk.store_table, totals[table])
            current = table
            if progress:
                progress(table, 0, totals[table])
        writer.write(chunk.rejects)
        if fresh and not chunk.ready:
            waiting.append(chunk)
        else:
            load(chunk)
        while waiting and waiting[0].ready:
            load(waiting.pop(0))
        done[table] += chunk.rows_read
        result.rows_read += chunk.rows_read
        result.read[table] = done[table]
        if progress:
            progress(table, done[table], totals[table])
    for chunk in waiting:
        load(chunk)
    if current is not None and not fresh:
        with times.timed(f"end_bulk:{STORE_TABLE[current]}"):
            loader.end_bulk(STORE_TABLE[current])


def _open_limit_history(loader: StoreLoader | ArrowStoreLoader, result: ImportResult) -> int:
    """Every account's limit history starts with the limit it was opened with."""
    if isinstance(loader, ArrowStoreLoader):
        return loader.open_limit_history(result.accounts)
    return loader.open_limit_history()


def _read_ahead(chunks: Iterator[TableChunk], depth: int = 1) -> Iterator[TableChunk]:
    """Read and check the next chunk on a thread while this one loads.

    Polars, pyarrow and the database drivers release the GIL, and PostgreSQL works in its own
    process, so reading and loading overlap on a second core.
    """
    channel: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    finished = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                channel.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(finished)
        except BaseException as exc:  # handed to the loading thread, raised there
            put(exc)

    worker = threading.Thread(target=produce, name="cardpilot-import-reader", daemon=True)
    worker.start()
    try:
        while True:
            item = channel.get()
            if item is finished:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, TableChunk)
            yield item
    finally:
        stop.set()
        worker.join()


def _add(result: ImportResult, table: str, added: int) -> None:
    name = _COUNTED[table]
    setattr(result, name, getattr(result, name) + added)


def _start_run(engine: Engine, result: ImportResult) -> int:
    with unit_of_work(engine) as session:
        run = ImportRun(
            source=result.source,
            layout=result.layout,
            started_at=dt.datetime.now(dt.UTC),
            customers_added=0,
            accounts_added=0,
            statements_added=0,
            transactions_added=0,
            labels_added=0,
            rejected=0,
        )
        session.add(run)
        session.flush()
        return int(run.id)


def _finish_run(engine: Engine, run_id: int, result: ImportResult) -> None:
    with unit_of_work(engine) as session:
        session.execute(
            update(ImportRun)
            .where(ImportRun.id == run_id)
            .values(
                finished_at=dt.datetime.now(dt.UTC),
                customers_added=result.customers,
                accounts_added=result.accounts,
                statements_added=result.statements,
                transactions_added=result.transactions,
                labels_added=result.labels,
                rejected=result.rejected,
                rejects_file=result.rejects_file,
            )
        )


def rejects_preview(path: str | Path, limit: int = 10) -> pl.DataFrame:
    """The first reject records of a run, for the CLI to show."""
    return pl.read_csv(path, n_rows=limit, infer_schema=False)
