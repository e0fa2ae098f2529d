"""Requests sent with an ``Idempotency-Key`` (``idempotent_requests``): claimed when they
start, their answer kept when it is a success, and what a later request with the same key gets.

A key belongs to its caller (``actor``): two callers' keys never meet. A claim is a row whose
``status`` is null until the request is answered; an answer that is not a success releases the
claim (the row goes), so the caller may retry with the same key. Rows are kept for
``KEEP_ANSWERS``; a claim still unanswered after ``ABANDONED_AFTER`` belonged to a worker that
stopped, and the next request with its key takes it over.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import DateTime, Engine, LargeBinary, bindparam, text

KEEP_ANSWERS = dt.timedelta(hours=24)
ABANDONED_AFTER = dt.timedelta(minutes=5)
_WHEN = {n: bindparam(n, type_=DateTime(timezone=True)) for n in ("now", "expired", "abandoned")}
_KEY = "actor = :actor AND idempotency_key = :key"

_PURGE = text("DELETE FROM idempotent_requests WHERE created_at < :expired").bindparams(
    _WHEN["expired"]
)
_ABANDONED = text(
    f"DELETE FROM idempotent_requests WHERE {_KEY} AND status IS NULL AND created_at < :abandoned"
).bindparams(_WHEN["abandoned"])
_CLAIM = text(
    "INSERT INTO idempotent_requests (actor, idempotency_key, route, fingerprint, created_at)"
    " VALUES (:actor, :key, :route, :fingerprint, :now)"
    " ON CONFLICT (actor, idempotency_key) DO NOTHING"
).bindparams(_WHEN["now"])
_READ = text(f"SELECT fingerprint, status, media_type, body FROM idempotent_requests WHERE {_KEY}")
_ANSWER = text(
    "UPDATE idempotent_requests SET status = :status, media_type = :media_type, body = :body,"
    f" answered_at = :now WHERE {_KEY} AND status IS NULL"
).bindparams(_WHEN["now"], bindparam("body", type_=LargeBinary))
_RELEASE = text(f"DELETE FROM idempotent_requests WHERE {_KEY} AND status IS NULL")


class Outcome(StrEnum):
    CLAIMED = "claimed"  # the first request with this key: run it
    REPLAY = "replay"  # answered before, to the same request: that answer again
    MISMATCH = "mismatch"  # the key was used for a different request
    RUNNING = "running"  # the first request with this key is still being answered


@dataclass(frozen=True)
class Claim:
    outcome: Outcome
    status: int | None = None
    media_type: str | None = None
    body: bytes | None = None


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def claim_request(
    db: Engine,
    actor: str,
    key: str,
    route: str,
    fingerprint: str,
    now: dt.datetime | None = None,
) -> Claim:
    """Claim ``key`` for ``actor``'s request (``fingerprint``), or say what it was used for."""
    now = _now(now)
    ids = {"actor": actor, "key": key}
    with db.begin() as conn:
        conn.execute(_PURGE, {"expired": now - KEEP_ANSWERS})
        conn.execute(_ABANDONED, {**ids, "abandoned": now - ABANDONED_AFTER})
        made = conn.execute(_CLAIM, {**ids, "route": route, "fingerprint": fingerprint, "now": now})
        if made.rowcount == 1:
            return Claim(Outcome.CLAIMED)
        row = conn.execute(_READ, ids).first()
    if row is None:  # released or taken over meanwhile: the other request still decides it
        return Claim(Outcome.RUNNING)
    if row[0] != fingerprint:
        return Claim(Outcome.MISMATCH)
    if row[1] is None:
        return Claim(Outcome.RUNNING)
    body = None if row[3] is None else bytes(row[3])
    return Claim(Outcome.REPLAY, int(row[1]), row[2], body)


def keep_answer(
    db: Engine,
    actor: str,
    key: str,
    status: int,
    media_type: str | None,
    body: bytes,
    now: dt.datetime | None = None,
) -> None:
    """The claimed request's successful answer, for the retries with its key."""
    values = {"actor": actor, "key": key, "status": status, "media_type": media_type}
    with db.begin() as conn:
        conn.execute(_ANSWER, {**values, "body": body, "now": _now(now)})


def release_claim(db: Engine, actor: str, key: str) -> None:
    """The claimed request failed: its key is free for a retry."""
    with db.begin() as conn:
        conn.execute(_RELEASE, {"actor": actor, "key": key})
