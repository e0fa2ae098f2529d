"""Encrypting personal fields in a worker process, overlapped with reading and loading.

AES-GCM per value costs a few microseconds, most of it interpreter overhead per call: for a
million customers that is about ten CPU seconds, more than the rest of their import. A worker
process does it on another core while the import goes on checking accounts and statements and
writing rows (a fresh load writes customers whenever their ciphertext is ready,
``ArrowStoreLoader.begin_fresh``). The blobs are exactly those :class:`FieldCipher` makes in
process; plaintext goes to the worker over a pipe and never touches disk.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

import polars as pl
import pyarrow as pa

from cardpilot.privacy import BlindIndexKey, FieldCipher, KeyRing

# ``national_id`` also gets a keyed blind index; see FieldCipher.blind_index.
BLIND_INDEXED = ("national_id", "national_id_hmac")

_worker_cipher: FieldCipher | None = None

Columns = dict[str, list[str | None]]
Encrypted = dict[str, list[bytes | None]]
# What a worker sends back: the encrypted columns as an Arrow IPC stream (no per-value pickling)
EncryptedStream = bytes


def _start_worker(spec: str, active: str, blind_spec: str | None) -> None:
    global _worker_cipher
    blind = BlindIndexKey.parse(blind_spec) if blind_spec else None
    _worker_cipher = FieldCipher(KeyRing.parse(spec, active), blind)


def encrypt_columns(cipher: FieldCipher, columns: Columns, names: dict[str, str]) -> Encrypted:
    """Each personal column encrypted (as ``names[column]``), and the national id's blind index."""
    out: Encrypted = {names[c]: cipher.encrypt_many(values) for c, values in columns.items()}
    source, target = BLIND_INDEXED
    if source in columns:
        out[target] = [cipher.blind_index(v) for v in columns[source]]
    return out


def _to_stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _from_stream(stream: bytes) -> pa.Table:
    return pa.ipc.open_stream(stream).read_all()


def _encrypt_in_worker(stream: bytes, names: dict[str, str]) -> EncryptedStream:
    assert _worker_cipher is not None, "worker started without its key ring"
    plain = _from_stream(stream)
    columns: Columns = {c: plain.column(c).to_pylist() for c in plain.column_names}
    encrypted = encrypt_columns(_worker_cipher, columns, names)
    return _to_stream(pa.table({k: pa.array(v, pa.binary()) for k, v in encrypted.items()}))


def encrypted_frame(stream: EncryptedStream) -> pl.DataFrame:
    """A worker's result as a frame of Binary columns."""
    frame = pl.from_arrow(_from_stream(stream))
    assert isinstance(frame, pl.DataFrame)
    return frame


def worker_count(cpus: int | None = None) -> int:
    """Workers beside the import's own two threads: one on two cores, at most four."""
    cpus = cpus or os.cpu_count() or 1
    return max(1, min(4, cpus - 1))


class EncryptionPool:
    """A pool of worker processes that encrypt personal columns; use as a context manager."""

    def __init__(
        self, ring: KeyRing, blind_key: BlindIndexKey | None, workers: int | None = None
    ) -> None:
        self._ring = ring
        self._blind_key = blind_key
        self._workers = workers or worker_count()
        self._pool: ProcessPoolExecutor | None = None

    @property
    def active_key_id(self) -> str:
        return self._ring.active

    def __enter__(self) -> EncryptionPool:
        # Spawned, not forked: the import's threads (Polars, the reader, the drivers) make
        # fork unsafe, and a spawned worker imports only the cipher.
        self._pool = ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(
                self._ring.to_spec(),
                self._ring.active,
                self._blind_key.to_spec() if self._blind_key else None,
            ),
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, plain: pl.DataFrame, names: dict[str, str]) -> Future[EncryptedStream]:
        """Encrypt the columns of ``plain`` (one per personal field) in a worker; each comes
        back as ``names[column]`` (see ``encrypted_frame``), with the national id's blind index.
        """
        if self._pool is None:
            raise RuntimeError("EncryptionPool is not open; use it as a context manager")
        return self._pool.submit(_encrypt_in_worker, _to_stream(plain.to_arrow()), names)
