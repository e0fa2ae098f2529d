"""The HTTP service's callers: staff users (password hashes) and systems' API keys (hashes);
and the answers to its state-changing requests sent with an ``Idempotency-Key``.

Neither caller table holds a secret: a password is kept as its Argon2 hash, an API key as the
SHA-256 of its random secret beside the key's public id (the prefix a caller sends it with).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cardpilot.store.models import Base

_ID = BigInteger().with_variant(Integer, "sqlite")


class ServiceUser(Base):
    """A member of staff who signs in with a password (OAuth2 password flow)."""

    __tablename__ = "service_users"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ServiceApiKey(Base):
    """A system's API key: its public id and the SHA-256 of its secret."""

    __tablename__ = "service_api_keys"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class IdempotentRequest(Base):
    """A state-changing request a caller sent with an ``Idempotency-Key``: what it asked
    (``fingerprint``) and, once answered with success, the answer, replayed to a retry."""

    __tablename__ = "idempotent_requests"

    actor: Mapped[str] = mapped_column(String(160), primary_key=True)  # a key is the caller's own
    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    route: Mapped[str] = mapped_column(String(200))  # METHOD /path, for whoever reads the table
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of method, path, query, body
    status: Mapped[int | None] = mapped_column(Integer)  # null while the request runs
    media_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_idempotent_requests_created_at", "created_at"),)
