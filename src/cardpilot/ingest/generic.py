"""The generic portfolio layout (docs/data-formats.md, CONTRACTS.md) → checked, store-shaped chunks.

A folder holds one table per name (``NAME.csv``, ``NAME.parquet`` or a folder ``NAME/`` of
parts). Tables are read parents first (customers, accounts, then statements, transactions and
labels), one bounded chunk at a time. A row whose parent was rejected is rejected too, naming the
parent's row; a row whose parent is neither in this import nor already in the store is rejected
as unknown. Personal fields are encrypted here, before anything is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cardpilot.ingest.crypt import (
    EncryptedStream,
    EncryptionPool,
    encrypt_columns,
    encrypted_frame,
)
from cardpilot.ingest.fields import (
    NFIELDS,
    ROW,
    FieldSpec,
    reject_duplicates,
    reject_rows,
    validate,
)
from cardpilot.ingest.rejects import REJECT_SCHEMA
from cardpilot.ingest.sources import SourceError, file_columns, iter_file, table_files
from cardpilot.privacy import FieldCipher
from cardpilot.store.models import ACCOUNT_STATUSES, TRANSACTION_KINDS

_CURRENCY = (r"^[A-Z]{3}$", "not an ISO 4217 currency code (e.g. CNY)")
_MAX_DPD = 100_000

SPECS: dict[str, list[FieldSpec]] = {
    "customers": [
        FieldSpec("customer_id", "id", required=True, max_length=64),
        FieldSpec("name", "text", max_length=200, personal=True),
        FieldSpec("national_id", "text", max_length=64, personal=True),
        FieldSpec("phone", "text", max_length=40, personal=True),
        FieldSpec("email", "text", max_length=254, personal=True),
        FieldSpec("birth_year", "int", min_value=1900, max_value=2100, dtype=pl.Int16()),
        FieldSpec("education", "text", max_length=16),
        FieldSpec("sex", "text", max_length=8),
        FieldSpec("marital_status", "text", max_length=8),
        FieldSpec("annual_income", "money", min_value=0),
        FieldSpec("locale", "text", max_length=8),
        FieldSpec("timezone", "text", max_length=40),
    ],
    "accounts": [
        FieldSpec("account_id", "id", required=True, max_length=64),
        FieldSpec("customer_id", "id", required=True, max_length=64),
        FieldSpec("currency", "text", required=True, pattern=_CURRENCY),
        FieldSpec("credit_limit", "money", required=True, min_value=0),
        FieldSpec("open_date", "date"),
        FieldSpec("status", "enum", allowed=frozenset(ACCOUNT_STATUSES)),
        FieldSpec("temp_limit", "money", min_value=0),
        FieldSpec("temp_limit_expires_on", "date"),
    ],
    "statements": [
        FieldSpec("account_id", "id", required=True, max_length=64),
        FieldSpec("cycle_date", "date", required=True),
        FieldSpec("due_date", "date"),
        FieldSpec("credit_limit", "money", min_value=0),
        FieldSpec("statement_balance", "money", required=True),
        FieldSpec("minimum_due", "money", min_value=0),
        FieldSpec("amount_paid", "money", required=True, min_value=0),
        FieldSpec("purchases", "money", min_value=0),
        FieldSpec("cash_advances", "money", min_value=0),
        FieldSpec("repayment_status", "int", allowed=frozenset(range(-2, 10)), dtype=pl.Int16()),
        FieldSpec(
            "days_past_due",
            "int",
            required=True,
            min_value=0,
            max_value=_MAX_DPD,
            dtype=pl.Int32(),
        ),
    ],
    "transactions": [
        FieldSpec("transaction_id", "id", required=True, max_length=64),
        FieldSpec("account_id", "id", required=True, max_length=64),
        FieldSpec("posted_at", "timestamp", required=True),
        FieldSpec("kind", "enum", required=True, allowed=frozenset(TRANSACTION_KINDS)),
        FieldSpec("amount", "money", required=True, min_value=0),
        FieldSpec("currency", "text", pattern=_CURRENCY),
        FieldSpec("merchant_category", "text", max_length=8),
    ],
    "labels": [
        FieldSpec("account_id", "id", required=True, max_length=64),
        FieldSpec("label", "text", required=True, max_length=32),
        FieldSpec("observed_on", "date", required=True),
        FieldSpec("value", "bool", required=True),
    ],
}
TABLES = ("customers", "accounts", "statements", "transactions", "labels")
REQUIRED_TABLES = ("customers", "accounts", "statements")
STORE_TABLE = {
    "customers": "customers",
    "accounts": "accounts",
    "statements": "statements",
    "transactions": "transactions",
    "labels": "performance_labels",
}
KEY = {
    "customers": ["customer_id"],
    "accounts": ["account_id"],
    "statements": ["account_id", "cycle_date"],
    "transactions": ["transaction_id"],
    "labels": ["account_id", "label"],
}
PARENT = {
    "accounts": ("customers", "customer_id"),
    "statements": ("accounts", "account_id"),
    "transactions": ("accounts", "account_id"),
    "labels": ("accounts", "account_id"),
}
MONEY_TO_MINOR = {
    "annual_income": "annual_income_minor",
    "credit_limit": "credit_limit_minor",
    "temp_limit": "temp_limit_minor",
    "statement_balance": "statement_balance_minor",
    "minimum_due": "minimum_due_minor",
    "amount_paid": "amount_paid_minor",
    "purchases": "purchases_minor",
    "cash_advances": "cash_advances_minor",
    "amount": "amount_minor",
}
PERSONAL = {"name": "name_enc", "national_id": "national_id_enc", "phone": "phone_enc"}
PERSONAL["email"] = "email_enc"

# (table, parent id column, ids) → the ids already in the store
StoreLookup = Callable[[str, str, pl.Series], pl.Series]


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


def key_bounds(
    frame: pl.DataFrame, key: list[str]
) -> tuple[tuple[object, ...], tuple[object, ...]] | None:
    """(first, last) key when ``frame``'s keys strictly increase row by row, else None.

    Such a chunk holds no key twice; extracts sorted by account (the usual case) are, so the
    duplicate checks reduce to one comparison with the previous row.
    """
    if (
        frame.height == 0
        or frame.select(pl.any_horizontal(pl.col(k).is_null().any() for k in key)).item()
    ):
        return None
    above = pl.lit(False)
    level = pl.lit(True)  # every earlier key column equal to the previous row's
    for name in key:
        column, previous = pl.col(name), pl.col(name).shift(1)
        above = above | (level & (column > previous))
        level = level & (column == previous)
    if frame.height > 1 and not frame.select(above.slice(1).all()).item():
        return None
    return frame.select(key).row(0), frame.select(key).row(-1)


def _key_less(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    return a < b


def _key_hash(key: list[str]) -> pl.Expr:
    """A 64-bit hash of a row's key (fixed seeds: stable within one import)."""
    return pl.struct(key).hash(seed=0).alias("__key_hash")


class GenericReader:
    """Reads a generic-layout folder table by table, remembering accepted and rejected ids."""

    def __init__(
        self,
        folder: Path,
        *,
        store_lookup: StoreLookup,
        cipher: Callable[[], FieldCipher],
        defaults: Defaults | None = None,
        encryptor: EncryptionPool | None = None,
    ) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(f"{self.folder}: not a folder (the generic layout is a folder)")
        self.files = {t: table_files(self.folder, t) for t in TABLES}
        missing = [t for t in REQUIRED_TABLES if not self.files[t]]
        if missing:
            raise SourceError(
                f"{self.folder}: no {', '.join(missing)} table "
                f"(expected NAME.csv, NAME.parquet or a folder NAME/ of parts)"
            )
        for table, files in self.files.items():
            required = {s.name for s in SPECS[table] if s.required}
            for path in files:
                absent = required - set(file_columns(path))
                if absent:
                    raise SourceError(
                        f"{path}: required column(s) missing: {', '.join(sorted(absent))}"
                    )
        self._lookup = store_lookup
        self._cipher_factory = cipher
        self._cipher: FieldCipher | None = None
        # Personal fields encrypted in worker processes (None: here, on the reading thread).
        self.encryptor = encryptor
        self.defaults = defaults or Defaults()
        # ids accepted in this import, and rejected ids with where they were rejected
        self._accepted: dict[str, list[pl.Series]] = {t: [] for t in TABLES}
        self._rejected: dict[str, list[pl.DataFrame]] = {t: [] for t in TABLES}
        # Keys accepted so far (with where they were first seen), kept compact and appended in
        # place: for millions of statements this is the import's largest structure.
        self._seen: dict[str, pl.DataFrame | None] = dict.fromkeys(TABLES)
        # A 64-bit hash of each seen key, to tell cheaply that a chunk repeats none of them
        # (the usual case); only a chunk with a possible repeat joins against ``_seen``.
        # Probing millions of composite keys per chunk otherwise makes a large import's
        # checks grow with the square of its size.
        self._seen_hashes: dict[str, list[pl.Series]] = {t: [] for t in TABLES}
        # ``_accepted`` concatenated, per parent table (rebuilt when it has grown).
        self._accepted_frame: dict[str, tuple[int, pl.DataFrame]] = {}
        # The largest key accepted so far per table: a chunk in increasing key order that
        # starts above it repeats no earlier key (sorted extracts), without any hash probe.
        self._max_key: dict[str, tuple[object, ...]] = {}
        # ``_accepted`` as one sorted Series per parent table, for binary-search look-ups.
        self._accepted_sorted: dict[str, tuple[int, pl.Series]] = {}

    def total_rows(self, table: str) -> int | None:
        """Rows in ``table`` when cheap to know (Parquet metadata), for progress bars."""
        import pyarrow.parquet as pq

        total = 0
        for path in self.files[table]:
            if path.suffix != ".parquet":
                return None
            total += pq.ParquetFile(path).metadata.num_rows
        return total

    def chunks(self, table: str) -> Iterator[TableChunk]:
        for path in self.files[table]:
            header = file_columns(path) if path.suffix == ".csv" else None
            for chunk in iter_file(path):
                yield self._check(table, path, chunk.frame, header)

    # -- one chunk -----------------------------------------------------------------------------

    def _check(
        self, table: str, path: Path, raw: pl.DataFrame, header: list[str] | None
    ) -> TableChunk:
        file = self._display(path)
        specs = SPECS[table]
        keep = [ROW, NFIELDS] if NFIELDS in raw.columns else [ROW]
        raw = raw.select(*keep, *(s.name for s in specs if s.name in raw.columns))
        checked = validate(raw, specs, file=file, expected_fields=None)
        if header is not None and NFIELDS in raw.columns:
            expected = len(header)
            # Field-count check against the file's own header, not the layout's column list.
            short = raw.filter(pl.col(NFIELDS) != expected)
            if short.height:
                row_rejects = short.select(
                    pl.lit(file).alias("file"),
                    pl.col(ROW).alias("row"),
                    # the first field a short line lacks, or the last one of a long line
                    pl.lit(pl.Series([*header, header[-1]]))
                    .get(pl.col(NFIELDS).clip(0, expected).cast(pl.Int64))
                    .alias("field"),
                    pl.lit("").alias("value"),
                    pl.when(pl.col(NFIELDS) < expected)
                    .then(pl.format("short row: {} of {} fields", pl.col(NFIELDS), expected))
                    .otherwise(pl.format("too many fields: {} of {}", pl.col(NFIELDS), expected))
                    .alias("reason"),
                ).cast(REJECT_SCHEMA)  # type: ignore[arg-type]
                # A short row is reported once, for the row, not once per missing field.
                checked_rejects = checked.rejects.join(
                    short.select(ROW), left_on="row", right_on=ROW, how="anti"
                )
                good = checked.good.join(short.select(ROW), on=ROW, how="anti")
                rejects = [row_rejects, checked_rejects]
            else:
                good, rejects = checked.good, [checked.rejects]
        else:
            good, rejects = checked.good, [checked.rejects]

        key = KEY[table]
        bounds = key_bounds(good, key)
        if bounds is None:  # not in strictly increasing key order: keys may repeat
            good, dup_rejects = reject_duplicates(good, key, file=file, field=key[-1])
            rejects.append(dup_rejects)
        in_order = good if bounds is not None else None
        if bounds is not None and self._after_seen(table, bounds[0]):
            pass  # every key above all keys accepted so far: none can repeat one of them
        else:
            good, seen_rejects = self._reject_seen(table, good, file)
            rejects.append(seen_rejects)
        if table in PARENT:
            good, parent_rejects = self._reject_orphans(table, good, file)
            rejects.append(parent_rejects)

        all_rejects = pl.concat([r.cast(REJECT_SCHEMA) for r in rejects])  # type: ignore[arg-type]
        self._remember(table, raw, good, file)
        # Still in key order when no check had to join (joins need not keep row order).
        presorted = good is in_order or (in_order is not None and key_bounds(good, key) is not None)
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

    def _after_seen(self, table: str, first: tuple[object, ...]) -> bool:
        """Whether ``first`` is above every key accepted so far from ``table``."""
        if self._seen[table] is None:
            return True
        top = self._max_key.get(table)
        return bool(top) and top is not None and _key_less(top, first)

    def _note_max(self, table: str, good: pl.DataFrame) -> None:
        key = KEY[table]
        if table in self._max_key and self._max_key[table] == ():
            return  # an earlier chunk had no usable maximum: stay on the hash path
        bounds = key_bounds(good, key)
        if bounds is None:
            if good.select(pl.any_horizontal(pl.col(k).is_null().any() for k in key)).item():
                self._max_key[table] = ()
                return
            top = good.select(key).sort(key, descending=True).row(0)
        else:
            top = bounds[1]
        current = self._max_key.get(table)
        if current is None or _key_less(current, top):
            self._max_key[table] = tuple(top)

    def _reject_seen(
        self, table: str, good: pl.DataFrame, file: str
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Rows repeating a key accepted from an earlier chunk or file of this import."""
        key = KEY[table]
        seen = self._seen[table]
        if seen is None or good.height == 0:
            return good, pl.DataFrame(schema=REJECT_SCHEMA)
        if not self._seen_hashes[table]:
            return good, pl.DataFrame(schema=REJECT_SCHEMA)
        hashes = pl.concat(self._seen_hashes[table], rechunk=True)
        self._seen_hashes[table] = [hashes]
        # Semi-join probing the seen hashes with the chunk's (a hash table of the chunk only).
        chunk_hashes = good.select(_key_hash(key)).unique()
        repeated = hashes.to_frame().join(chunk_hashes, on="__key_hash", how="semi")
        if repeated.height == 0:
            return good, pl.DataFrame(schema=REJECT_SCHEMA)
        maybe = good.filter(_key_hash(key).is_in(repeated["__key_hash"].implode()))
        if maybe.height == 0:
            return good, pl.DataFrame(schema=REJECT_SCHEMA)
        # Probe the (large) seen keys with the (small) set of possible repeats, so the hash
        # table is built on those, not on every key of the import so far.
        hits = seen.join(maybe.select(key).unique(), on=key, how="semi")
        if hits.height == 0:
            return good, pl.DataFrame(schema=REJECT_SCHEMA)
        flagged = good.join(hits, on=key, how="left").with_columns(
            pl.when(pl.col("__first_row").is_not_null())
            .then(
                pl.format("{} row {}", pl.col("__first_file").cast(pl.Utf8), pl.col("__first_row"))
            )
            .alias("__first_at")
        )
        kept, rejects = reject_rows(
            flagged,
            pl.col("__first_at").is_not_null(),
            file=file,
            field=key[-1],
            reason=pl.format(
                "duplicate {} (first at {})", pl.lit("/".join(key)), pl.col("__first_at")
            ),
        )
        return kept.drop("__first_at", "__first_file", "__first_row"), rejects

    def _reject_orphans(
        self, table: str, good: pl.DataFrame, file: str
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        parent, column = PARENT[table]
        if good.height == 0:
            return good, pl.DataFrame(schema=REJECT_SCHEMA)
        if not self._rejected[parent] and self._all_accepted(parent, good[column]):
            return good, pl.DataFrame(schema=REJECT_SCHEMA)  # every parent is in this import
        rejected = (
            pl.concat(self._rejected[parent]).unique(subset=["id"], keep="first")
            if self._rejected[parent]
            else pl.DataFrame(schema={"id": pl.Utf8, "__where": pl.Utf8})
        )
        # Which of the chunk's parent ids this import accepted: a semi-join probing every
        # accepted id with the chunk's few distinct ones (``is_in`` would hash all of them,
        # millions, for every chunk).
        in_import = (
            self._accepted_ids(parent)
            .join(good.select(pl.col(column).alias("id")).unique(), on="id", how="semi")
            .rename({"id": column})
            .with_columns(pl.lit(True).alias("__in_import"))
        )
        flagged = (
            good.join(in_import, on=column, how="left")
            .with_columns(pl.col("__in_import").fill_null(False))
            .join(rejected.rename({"id": column}), on=column, how="left")
        )
        # An id accepted from another row of the import wins over a rejected duplicate of it.
        flagged = flagged.with_columns(
            pl.when(pl.col("__in_import")).then(None).otherwise(pl.col("__where")).alias("__where")
        )
        unknown = flagged.filter(~pl.col("__in_import") & pl.col("__where").is_null())[column]
        in_store = (
            self._lookup(STORE_TABLE[parent], column, unknown.unique())
            if unknown.len()
            else pl.Series(column, [], dtype=pl.Utf8)
        )
        flagged = flagged.with_columns(
            (pl.col("__in_import") | pl.col(column).is_in(in_store.implode())).alias("__known")
        )
        kept, parent_rejects = reject_rows(
            flagged,
            pl.col("__where").is_not_null() | ~pl.col("__known"),
            file=file,
            field=column,
            reason=pl.when(pl.col("__where").is_not_null())
            .then(pl.format("its {} was rejected ({})", pl.lit(column), pl.col("__where")))
            .otherwise(
                pl.format("unknown {}: not in this import nor in the store", pl.lit(column))
            ),
        )
        return kept.drop("__where", "__in_import", "__known"), parent_rejects

    def _all_accepted(self, table: str, ids: pl.Series) -> bool:
        """Whether every one of ``ids`` was accepted from ``table`` in this import.

        A binary search of the accepted ids (sorted once when their table is done) for the
        chunk's distinct ids: a few per cent of probing every accepted id with them.
        """
        parts = self._accepted[table]
        cached = self._accepted_sorted.get(table)
        if cached is None or cached[0] != len(parts):
            accepted = self._accepted_ids(table)["id"]
            if not accepted.is_sorted():
                accepted = accepted.sort()
            cached = (len(parts), accepted.set_sorted())
            self._accepted_sorted[table] = cached
        accepted = cached[1]
        if ids.null_count() or accepted.len() == 0:
            return False
        # Statements arrive in account order: their distinct ids are where the id changes,
        # a tenth of the cost of hashing them (and sorted, which the search below likes).
        wanted = ids.filter(ids.ne_missing(ids.shift(1))) if ids.is_sorted() else ids.unique()
        at = accepted.search_sorted(wanted).clip(0, accepted.len() - 1)
        return bool((accepted.gather(at) == wanted).all())

    def _accepted_ids(self, table: str) -> pl.DataFrame:
        """Ids accepted from ``table`` so far, as one frame with column ``id``."""
        parts = self._accepted[table]
        cached = self._accepted_frame.get(table)
        if cached is None or cached[0] != len(parts):
            frame = (
                pl.concat(parts).to_frame("id") if parts else pl.DataFrame(schema={"id": pl.Utf8})
            )
            cached = (len(parts), frame)
            self._accepted_frame[table] = cached
        return cached[1]

    def _remember(self, table: str, raw: pl.DataFrame, good: pl.DataFrame, file: str) -> None:
        key = KEY[table]
        if good.height:
            keys = good.select(
                *key,
                pl.lit(file).cast(pl.Categorical).alias("__first_file"),
                pl.col(ROW).alias("__first_row"),
            )
            self._seen_hashes[table].append(good.select(_key_hash(key)).to_series())
            self._note_max(table, good)
            seen = self._seen[table]
            if seen is None:
                self._seen[table] = keys
            else:
                seen.vstack(keys, in_place=True)
                if seen.n_chunks() > 16:
                    self._seen[table] = seen.rechunk()
            if table in ("customers", "accounts"):
                self._accepted[table].append(good[key[0]])
        if table in ("customers", "accounts"):
            refused = raw.join(good.select(ROW), on=ROW, how="anti")
            if refused.height:
                self._rejected[table].append(
                    refused.select(
                        pl.col(key[0]).cast(pl.Utf8).str.strip_chars().alias("id"),
                        pl.format("{} row {}", pl.lit(file), pl.col(ROW)).alias("__where"),
                    ).drop_nulls("id")
                )

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
