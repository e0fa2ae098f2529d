"""Encrypting the personal fields of large imports in worker processes.

AES-GCM of four fields plus a blind index costs about 10 µs of interpreter time per customer,
held under the GIL: for a million customers, ten seconds during which loading would wait. Worker
processes encrypt each chunk in parts, on their own cores, while the import's reader thread goes
on checking later chunks and the loader writes what is ready. The blobs are exactly what
:meth:`FieldCipher.encrypt_many` makes (a fresh random nonce per value from ``os.urandom``, safe
in any process), under the same key, which each worker loads from the same settings.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cardpilot.privacy import FieldCipher

if TYPE_CHECKING:  # workers import this module; they need neither
    import polars as pl

    from cardpilot.config import Settings

# Chunks smaller than this are encrypted in the reading thread: a round trip costs more.
MIN_POOLED_ROWS = 20_000

_cipher: FieldCipher | None = None  # one per worker process


def _start_worker(settings: Settings) -> None:
    global _cipher
    _cipher = FieldCipher.from_settings(settings)


@dataclass(frozen=True)
class Sealed:
    """Encrypted columns of one part of a chunk, in its row order."""

    columns: dict[str, list[bytes | None]]
    blind_index: list[bytes | None]
    key_id: str


def seal(
    cipher: FieldCipher, columns: dict[str, list[str | None]], national_ids: list[str | None]
) -> Sealed:
    """Encrypt ``columns`` and make the blind index of ``national_ids`` with ``cipher``."""
    return Sealed(
        columns={name: cipher.encrypt_many(values) for name, values in columns.items()},
        blind_index=[cipher.blind_index(v) for v in national_ids],
        key_id=cipher.active_key_id,
    )


def _ready() -> bool:
    return _cipher is not None


def _seal_in_worker(columns: dict[str, list[str | None]], national_ids: list[str | None]) -> Sealed:
    assert _cipher is not None, "worker started without its cipher"
    return seal(_cipher, columns, national_ids)


class EncryptionPool:
    """Worker processes that encrypt chunks of personal fields; close it (or use ``with``)."""

    def __init__(self, settings: Settings, workers: int = 2) -> None:
        # Make the key file (if the settings name none) before any worker reads it.
        FieldCipher.from_settings(settings)
        self.workers = workers
        # spawn, not fork: the importing process runs threads (reader, drivers).
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(settings,),
        )
        # Start the workers now (they load the key ring), while the first chunk is read.
        for _ in range(workers):
            self._pool.submit(_ready)

    def __enter__(self) -> EncryptionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, frame: pl.DataFrame, personal: list[str]) -> list[Future[Sealed]]:
        """Encrypt the ``personal`` columns of ``frame`` in one part per worker."""
        size = -(-frame.height // self.workers)
        futures: list[Future[Sealed]] = []
        for offset in range(0, frame.height, size):
            part = frame.slice(offset, size)
            futures.append(
                self._pool.submit(
                    _seal_in_worker,
                    {c: part[c].to_list() for c in personal},
                    part["national_id"].to_list(),
                )
            )
        return futures


def join_sealed(parts: list[Sealed]) -> Sealed:
    """The parts of one chunk, back in row order."""
    first = parts[0]
    return Sealed(
        columns={c: [v for p in parts for v in p.columns[c]] for c in first.columns},
        blind_index=[v for p in parts for v in p.blind_index],
        key_id=first.key_id,
    )
