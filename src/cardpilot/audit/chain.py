"""The audit log's hash chain: canonical records, their hashes, and the check of a chain.

Each record's ``hash`` is SHA-256 over its canonical form (a JSON object of its fields, keys
sorted, no spaces, UTF-8) followed by the previous record's hash (``GENESIS`` for the first).
Changing any field of any record, deleting one, or inserting one changes that record's hash or
breaks the link of the next, so :func:`first_break` finds the first record that does not hold.
The payload is kept beside the record as canonical JSON text and enters the hash through its
digest, so a changed payload breaks the chain too.

Pure: no I/O. The store (``cardpilot.store.audit``) appends and reads; this module decides.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON text: keys sorted, no spaces, non-ASCII kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest_of(value: Any) -> str:
    """SHA-256 (hex) of ``value``'s canonical JSON: the before/after digests of a record."""
    return digest_text(canonical_json(value))


def canonical_time(at: dt.datetime) -> str:
    """A timestamp as UTC ISO text to the microsecond (a naive one is read as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class AuditEntry:
    """What a state change appends: who did what to which subject, and what changed."""

    actor: str
    action: str  # e.g. review.run, import.run, case.open, case.decide
    subject: str  # e.g. review_run:12, case:3, account:1001
    payload: Mapping[str, Any]
    before: Any = None  # the subject's state before (digested), None when it had none
    after: Any = None  # and after


@dataclass(frozen=True)
class AuditRecord:
    """One link of the chain, as stored in ``audit_log``."""

    seq: int
    at: dt.datetime
    actor: str
    action: str
    subject: str
    before_digest: str | None
    after_digest: str | None
    payload: str  # canonical JSON text
    payload_digest: str
    prev_hash: str
    hash: str

    def fields(self) -> dict[str, Any]:
        """The hashed fields in canonical form (everything but the payload text and hash)."""
        return {
            "seq": self.seq,
            "at": canonical_time(self.at),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "before_digest": self.before_digest,
            "after_digest": self.after_digest,
            "payload_digest": self.payload_digest,
        }

    def as_json(self) -> dict[str, Any]:
        out = self.fields()
        out.update(payload=json.loads(self.payload), prev_hash=self.prev_hash, hash=self.hash)
        return out


def record_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    return digest_text(canonical_json(dict(fields)) + prev_hash)


def _optional_digest(value: Any) -> str | None:
    return None if value is None else digest_of(value)


def next_record(previous: AuditRecord | None, entry: AuditEntry, at: dt.datetime) -> AuditRecord:
    """The record that follows ``previous`` (None: the chain's first) for ``entry`` at ``at``."""
    payload = canonical_json(dict(entry.payload))
    unhashed = AuditRecord(
        seq=1 if previous is None else previous.seq + 1,
        at=at,
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        before_digest=_optional_digest(entry.before),
        after_digest=_optional_digest(entry.after),
        payload=payload,
        payload_digest=digest_text(payload),
        prev_hash=GENESIS if previous is None else previous.hash,
        hash="",
    )
    return replace(unhashed, hash=record_hash(unhashed.fields(), unhashed.prev_hash))


@dataclass(frozen=True)
class ChainBreak:
    """The first record that does not hold, and why."""

    seq: int
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "reason": self.reason}


def record_problem(record: AuditRecord, previous: AuditRecord | None) -> str | None:
    """Why ``record`` does not follow ``previous`` (None: it is the first), or None."""
    expected_seq = 1 if previous is None else previous.seq + 1
    if record.seq != expected_seq:
        return (
            f"sequence number {record.seq} where {expected_seq} was expected (a record is missing)"
        )
    expected_prev = GENESIS if previous is None else previous.hash
    if record.prev_hash != expected_prev:
        return "its prev_hash is not the hash of the record before it"
    if digest_text(record.payload) != record.payload_digest:
        return "its payload does not match its payload digest (the payload was changed)"
    if record_hash(record.fields(), record.prev_hash) != record.hash:
        return "its hash does not match its contents (the record was changed)"
    return None


@dataclass
class ChainCheck:
    """A chain checked record by record (records fed in sequence order)."""

    checked: int = 0
    previous: AuditRecord | None = None
    broken: ChainBreak | None = None

    def feed(self, records: Iterable[AuditRecord]) -> bool:
        """Check ``records``; False once a break is found (the rest need not be read)."""
        for record in records:
            problem = record_problem(record, self.previous)
            if problem is not None:
                self.broken = ChainBreak(record.seq, problem)
                return False
            self.previous = record
            self.checked += 1
        return True


def first_break(records: Iterable[AuditRecord]) -> ChainBreak | None:
    """The first record of ``records`` (in sequence order) that breaks the chain, or None."""
    check = ChainCheck()
    check.feed(records)
    return check.broken
