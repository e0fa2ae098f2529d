"""The generic portfolio layout (docs/data-formats.md, CONTRACTS.md) → checked, store-shaped chunks.

A folder holds one table per name (``NAME.csv``, ``NAME.parquet`` or a folder ``NAME/`` of
parts). Tables are read parents first (customers, accounts, then statements, transactions, payments
and labels), one bounded chunk at a time. Each chunk's fields are parsed and checked
(:mod:`cardpilot.ingest.generic_specs`), then its dates and states judged against the import
date (:mod:`cardpilot.ingest.plausibility`), then its keys and parents against the rest of the
import and the store (:mod:`cardpilot.ingest.generic_keys`). Personal fields are encrypted here,
before anything is stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from cardpilot.ingest.crypt import (
    EncryptedStream,
    EncryptionPool,
    encrypt_columns,
    encrypted_frame,
)
from cardpilot.ingest.encodings import DEFAULT_ENCODING, check_encoding
from cardpilot.ingest.fields import NFIELDS, ROW, validate
from cardpilot.ingest.generic_keys import KeyLedger, StoreLookup, key_bounds
from cardpilot.ingest.generic_specs import (
    KEY,
    MONEY_TO_MINOR,
    PARENT,
    PERSONAL,
    REQUIRED_TABLES,
    SPECS,
    STORE_TABLE,
    TABLES,
)
from cardpilot.ingest.parsers import column_type_problem
from cardpilot.ingest.plausibility import reject_implausible
from cardpilot.ingest.problems import SourceError
from cardpilot.ingest.rejects import REJECT_SCHEMA
from cardpilot.ingest.sources import file_columns, iter_file, parquet_schema, table_files
from cardpilot.privacy import FieldCipher

__all__ = [
    "KEY",
    "SPECS",
    "STORE_TABLE",
    "TABLES",
    "Defaults",
    "GenericReader",
    "StoreLookup",
    "TableChunk",
    "key_bounds",
]


@dataclass(frozen=True)
class TableChunk:
    """A checked chunk of one table: rows ready for the store and reject records."""

    table: str  # layout name (``labels``); ``store_table`` is where it goes
    file: Path
    rows_read: int
    good: pl.DataFrame
    rejects: pl.DataFrame
    # Personal fields being encrypted in a worker process (``EncryptionPool``): ``good`` then
    # lacks their columns until ``rows`` adds them.
    pending: Future[EncryptedStream] | None = None
    # The rows are in strictly increasing key order (the store's primary key): no sort needed.
    presorted: bool = False

    @property
    def store_table(self) -> str:
        return STORE_TABLE[self.table]

    @property
    def ready(self) -> bool:
        """The rows can be loaded without waiting (no encryption pending, or it has finished)."""
        return self.pending is None or self.pending.done()

    def rows(self) -> pl.DataFrame:
        """The rows for the store; waits for pending encryption (and raises what it raised)."""
        if self.pending is None:
            return self.good
        return pl.concat([self.good, encrypted_frame(self.pending.result())], how="horizontal")


@dataclass(frozen=True)
class Defaults:
    """Values for optional fields left empty (from ``Settings``)."""

    currency: str = "CNY"
    locale: str = "zh-CN"
    timezone: str = "Asia/Shanghai"


def _no_store(table: str, column: str, ids: pl.Series) -> pl.Series:
    return ids.clear()


class GenericReader:
    """Reads a generic-layout folder table by table, remembering accepted and rejected ids.

    Every file is opened and its header (or Parquet schema) checked when the reader is made,
    so a folder that cannot be imported fails before anything is stored. ``store_lookup`` (set
    when the store is open) tells which parent ids outside the import the store holds.
    """

    def __init__(
        self,
        folder: Path,
        *,
        cipher: Callable[[], FieldCipher],
        store_lookup: StoreLookup = _no_store,
        defaults: Defaults | None = None,
        encryptor: EncryptionPool | None = None,
        encoding: str = DEFAULT_ENCODING,
        today: dt.date | None = None,
    ) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(f"{self.folder}: not a folder (the generic layout is a folder)")
        self.encoding = check_encoding(encoding)
        self.files = {t: table_files(self.folder, t) for t in TABLES}
        missing = [t for t in REQUIRED_TABLES if not self.files[t]]
        if missing:
            raise SourceError(
                f"{self.folder}: no {', '.join(missing)} table "
                f"(expected NAME.csv, NAME.parquet or a folder NAME/ of parts)"
            )
        self._headers: dict[Path, list[str]] = {}
        for table, files in self.files.items():
            for path in files:
                self._check_file(table, path)
        self._cipher_factory = cipher
        self._cipher: FieldCipher | None = None
        # Personal fields encrypted in worker processes (None: here, on the reading thread).
        self.encryptor = encryptor
        self.defaults = defaults or Defaults()
        self.today = today or dt.date.today()
        self.keys = KeyLedger(store_lookup)

    @property
    def store_lookup(self) -> StoreLookup:
        return self.keys.store_lookup

    @store_lookup.setter
    def store_lookup(self, lookup: StoreLookup) -> None:
        self.keys.store_lookup = lookup

    def _check_file(self, table: str, path: Path) -> None:
        columns = file_columns(path, encoding=self.encoding)
        if path.suffix == ".csv":
            self._headers[path] = columns
        required = {s.name for s in SPECS[table] if s.required}
        absent = required - set(columns)
        if absent:
            raise SourceError(f"{path}: required column(s) missing: {', '.join(sorted(absent))}")
        if path.suffix == ".parquet":
            types = parquet_schema(path)
            for spec in SPECS[table]:
                problem = (
                    column_type_problem(spec.kind, types[spec.name]) if spec.name in types else None
                )
                if problem:
                    raise SourceError(f"{path}: column {spec.name} {problem}")

    def total_rows(self, table: str) -> int | None:
        """Rows in ``table`` when cheap to know (Parquet metadata), for progress bars."""
        total = 0
        for path in self.files[table]:
            if path.suffix != ".parquet":
                return None
            total += pq.ParquetFile(path).metadata.num_rows
        return total

    def chunks(self, table: str) -> Iterator[TableChunk]:
        for path in self.files[table]:
            for chunk in iter_file(path, encoding=self.encoding):
                yield self._check(table, path, chunk.frame)

    # -- one chunk -----------------------------------------------------------------------------

    def _check(self, table: str, path: Path, raw: pl.DataFrame) -> TableChunk:
        file = self._display(path)
        specs = SPECS[table]
        keep = [ROW, NFIELDS] if NFIELDS in raw.columns else [ROW]
        raw = raw.select(*keep, *(s.name for s in specs if s.name in raw.columns))
        checked = validate(raw, specs, file=file, header=self._headers.get(path))
        good, implausible = reject_implausible(table, checked.good, file=file, today=self.today)
        rejects = [checked.rejects, implausible]
        good, repeats, in_order = self.keys.reject_repeats(table, good, file)
        rejects.extend(repeats)
        if table == "customers":
            good, shared = self.keys.reject_shared_national_ids(good, file)
            rejects.append(shared)
        if table in PARENT:
            good, parent_rejects = self.keys.reject_orphans(table, good, file)
            rejects.append(parent_rejects)
        all_rejects = pl.concat([r.cast(REJECT_SCHEMA) for r in rejects])  # type: ignore[arg-type]
        self.keys.remember(table, raw, good, file)
        # Still in key order when no check had to join (joins need not keep row order).
        presorted = good is in_order or (
            in_order is not None and key_bounds(good, KEY[table]) is not None
        )
        store, pending = self._to_store(table, good)
        return TableChunk(
            table=table,
            file=path,
            rows_read=raw.height,
            good=store,
            rejects=all_rejects.sort("row"),
            pending=pending,
            presorted=presorted,
        )

    def _display(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.folder.parent))
        except ValueError:
            return str(path)

    # -- store shape ---------------------------------------------------------------------------

    def _to_store(
        self, table: str, good: pl.DataFrame
    ) -> tuple[pl.DataFrame, Future[EncryptedStream] | None]:
        """Store-shaped rows, and the encryption still running for them (customers)."""
        frame = good.drop(ROW).rename(
            {k: v for k, v in MONEY_TO_MINOR.items() if k in good.columns}
        )
        pending: Future[EncryptedStream] | None = None
        if table == "customers":
            frame, pending = self._encrypt(frame)
            frame = frame.with_columns(
                pl.col("locale").fill_null(self.defaults.locale),
                pl.col("timezone").fill_null(self.defaults.timezone),
            )
        elif table == "accounts":
            frame = frame.with_columns(pl.col("status").fill_null("active"))
        elif table == "transactions":
            frame = frame.with_columns(pl.col("currency").fill_null(self.defaults.currency))
        elif table == "payments":
            frame = frame.rename({"payment_id": "transaction_id", "paid_at": "posted_at"})
            frame = frame.with_columns(
                pl.lit("payment").alias("kind"),
                pl.col("currency").fill_null(self.defaults.currency),
            )
        return frame, pending

    def _encrypt(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, Future[EncryptedStream] | None]:
        """Personal columns → ciphertext, blind index and key id (or a worker's future of them)."""
        personal = [c for c in PERSONAL if c in frame.columns]
        has_personal = pl.any_horizontal(pl.col(c).is_not_null() for c in personal)
        if frame.height == 0 or not frame.select(has_personal.any()).item():
            empty = frame.drop(personal).with_columns(
                *(pl.lit(None, dtype=pl.Binary).alias(PERSONAL[c]) for c in personal),
                pl.lit(None, dtype=pl.Binary).alias("national_id_hmac"),
                pl.lit(None, dtype=pl.Utf8).alias("pii_key_id"),
            )
            return empty, None
        names = {c: PERSONAL[c] for c in personal}
        if self.encryptor is not None:
            future = self.encryptor.submit(frame.select(personal), names)
            key_id = self.encryptor.active_key_id
            frame = frame.with_columns(
                pl.when(has_personal).then(pl.lit(key_id)).alias("pii_key_id")
            ).drop(personal)
            if "national_id" not in personal:
                frame = frame.with_columns(pl.lit(None, dtype=pl.Binary).alias("national_id_hmac"))
            return frame, future
        if self._cipher is None:
            self._cipher = self._cipher_factory()
        cipher = self._cipher
        plain = {c: frame[c].to_list() for c in personal}
        encrypted = encrypt_columns(cipher, plain, names)
        if "national_id" not in personal:
            encrypted["national_id_hmac"] = [None] * frame.height
        return frame.with_columns(
            *(pl.Series(name, values, dtype=pl.Binary) for name, values in encrypted.items()),
            pl.when(has_personal).then(pl.lit(cipher.active_key_id)).alias("pii_key_id"),
        ).drop(personal), None
