"""One digest of many decisions, fed chunk by chunk: how a batch run is audited.

A review of a million accounts appends one audit record for the run, not one per decision
(a million hashed, serialised appends would cost more than the review itself). The record
carries the run's counts and this digest: SHA-256 over the decisions' key columns as CSV
text, chunk after chunk in the order they were written. Anyone holding the decisions can
recompute it (``digest_decisions``), and the stored decisions themselves keep their run id.
"""

from __future__ import annotations

import hashlib

import polars as pl

DIGESTED_COLUMNS = (
    "account_id",
    "action",
    "grade",
    "score",
    "old_limit_minor",
    "new_limit_minor",
    "reason_codes",
)


class DecisionsDigest:
    """A running digest of decision frames (``DIGESTED_COLUMNS``), and the rows it has read."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.rows = 0

    def update(self, decisions: pl.DataFrame) -> None:
        frame = decisions.select(DIGESTED_COLUMNS).with_columns(
            pl.col("reason_codes").list.join(";")
        )
        self._hash.update(frame.write_csv(include_header=False).encode("utf-8"))
        self.rows += frame.height

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def digest_decisions(chunks: list[pl.DataFrame]) -> str:
    """The digest of ``chunks`` of decisions, in order."""
    digest = DecisionsDigest()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()
