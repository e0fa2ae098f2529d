"""What a generic-layout import has seen so far, so each chunk is checked against the others.

Keys accepted (to reject a repeat in a later chunk or file, naming where it was first seen), the
customer and account ids accepted and rejected (to reject a child whose parent was rejected, or
is neither in the import nor in the store), and national ids (one person, one customer). Kept
compact: for millions of statements this is the import's largest structure, and extracts
sorted by their key (the usual case) are checked with comparisons instead of joins.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from cardpilot.ingest.fields import ROW, reject_duplicates, reject_rows
from cardpilot.ingest.generic_specs import KEY, PARENT, STORE_TABLE, TABLES
from cardpilot.ingest.rejects import REJECT_SCHEMA

# (table, parent id column, ids) → the ids already in the store
StoreLookup = Callable[[str, str, pl.Series], pl.Series]


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


class KeyLedger:
    """Keys and ids accepted and rejected so far in one import, per layout table."""

    def __init__(self, store_lookup: StoreLookup) -> None:
        self.store_lookup = store_lookup
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
        # Hashes of the national ids accepted so far, with where each was first seen.
        self._national_ids: pl.DataFrame | None = None

    def reject_repeats(
        self, table: str, good: pl.DataFrame, file: str
    ) -> tuple[pl.DataFrame, list[pl.DataFrame], pl.DataFrame | None]:
        """Rows repeating a key of this chunk or of an earlier one: (kept, rejects, the rows
        as they were when still in strictly increasing key order, else None)."""
        key = KEY[table]
        rejects: list[pl.DataFrame] = []
        bounds = key_bounds(good, key)
        if bounds is None:  # not in strictly increasing key order: keys may repeat
            good, dup_rejects = reject_duplicates(good, key, file=file, field=key[-1])
            rejects.append(dup_rejects)
        in_order = good if bounds is not None else None
        if bounds is None or not self._after_seen(table, bounds[0]):
            good, seen_rejects = self._reject_seen(table, good, file)
            rejects.append(seen_rejects)
        return good, rejects, in_order

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

    def reject_orphans(
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
            self.store_lookup(STORE_TABLE[parent], column, unknown.unique())
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

    def remember(self, table: str, raw: pl.DataFrame, good: pl.DataFrame, file: str) -> None:
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
            if table == "customers":
                self._remember_national_ids(good, file)
        if table in ("customers", "accounts"):
            refused = raw.join(good.select(ROW), on=ROW, how="anti")
            if refused.height:
                self._rejected[table].append(
                    refused.select(
                        pl.col(key[0]).cast(pl.Utf8).str.strip_chars().alias("id"),
                        pl.format("{} row {}", pl.lit(file), pl.col(ROW)).alias("__where"),
                    ).drop_nulls("id")
                )

    def reject_shared_national_ids(
        self, good: pl.DataFrame, file: str
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Customers whose national id an earlier customer of this import already has (one
        person, one customer): the first keeps it. Ids are compared by a 64-bit hash, so the
        plain values are not kept beyond their chunk."""
        if "national_id" not in good.columns or good.height == 0:
            return good, pl.DataFrame(schema=REJECT_SCHEMA)
        hashed = good.with_columns(
            pl.when(pl.col("national_id").is_not_null())
            .then(pl.col("national_id").hash(seed=7))
            .alias("__nid")
        )
        first_here = pl.col(ROW).min().over("__nid")
        where = pl.format("{} row {}", pl.lit(file), first_here)
        if self._national_ids is not None:
            hashed = hashed.join(self._national_ids, on="__nid", how="left")
            where = pl.coalesce(pl.col("__nid_at"), where)
        else:
            hashed = hashed.with_columns(pl.lit(None, dtype=pl.Utf8).alias("__nid_at"))
        flagged = hashed.with_columns(
            pl.when(
                pl.col("__nid").is_not_null()
                & (pl.col("__nid_at").is_not_null() | (pl.col(ROW) != first_here))
            )
            .then(where)
            .alias("__repeat_of")
        )
        kept, rejects = reject_rows(
            flagged,
            pl.col("__repeat_of").is_not_null(),
            file=file,
            field="national_id",
            reason=pl.format("national_id already on the customer at {}", pl.col("__repeat_of")),
        )
        rejects = rejects.with_columns(pl.lit("<redacted>").alias("value"))
        return kept.drop("__nid", "__nid_at", "__repeat_of"), rejects

    def _remember_national_ids(self, good: pl.DataFrame, file: str) -> None:
        if "national_id" not in good.columns:
            return
        seen = good.filter(pl.col("national_id").is_not_null()).select(
            pl.col("national_id").hash(seed=7).alias("__nid"),
            pl.format("{} row {}", pl.lit(file), pl.col(ROW)).alias("__nid_at"),
        )
        if seen.height:
            before = self._national_ids
            self._national_ids = seen if before is None else pl.concat([before, seen])
