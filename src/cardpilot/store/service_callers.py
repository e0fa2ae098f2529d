"""The HTTP service's users and API keys in the store (``service_users``,
``service_api_keys``): added, disabled or revoked, listed and looked up for sign-in.

Hashing happens above (``cardpilot.service.credentials``): these functions take and return the
hashes only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, Engine, bindparam, text

_NOW = bindparam("now", type_=DateTime(timezone=True))


class CallerExistsError(ValueError):
    """A user name or key id that is already in the store."""


@dataclass(frozen=True)
class UserRow:
    username: str
    password_hash: str
    role: str
    disabled: bool
    created_at: dt.datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "role": self.role,
            "disabled": self.disabled,
            "created_at": _instant(self.created_at),
        }


@dataclass(frozen=True)
class ApiKeyRow:
    key_id: str
    secret_sha256: str
    name: str
    role: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "role": self.role,
            "created_at": _instant(self.created_at),
            "revoked_at": None if self.revoked_at is None else _instant(self.revoked_at),
        }


def _instant(value: Any) -> str:
    stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)).isoformat()


def _stamp(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


_USER_COLUMNS = "username, password_hash, role, disabled, created_at"
_KEY_COLUMNS = "key_id, secret_sha256, name, role, created_at, revoked_at"


def _user(row: Any) -> UserRow:
    return UserRow(row[0], row[1], row[2], bool(row[3]), _stamp(row[4]) or dt.datetime.now(dt.UTC))


def _key(row: Any) -> ApiKeyRow:
    created = _stamp(row[4]) or dt.datetime.now(dt.UTC)
    return ApiKeyRow(row[0], row[1], row[2], row[3], created, _stamp(row[5]))


def add_user(db: Engine, username: str, password_hash: str, role: str) -> UserRow:
    """A new enabled user; ``CallerExistsError`` when the name is taken."""
    now = dt.datetime.now(dt.UTC)
    with db.begin() as conn:
        taken = conn.execute(
            text("SELECT 1 FROM service_users WHERE username = :u"), {"u": username}
        ).first()
        if taken is not None:
            raise CallerExistsError(f"user {username!r} already exists")
        conn.execute(
            text(
                "INSERT INTO service_users (username, password_hash, role, disabled, created_at)"
                " VALUES (:u, :h, :r, :d, :now)"
            ).bindparams(_NOW),
            {"u": username, "h": password_hash, "r": role, "d": False, "now": now},
        )
    return UserRow(username, password_hash, role, False, now)


def set_user_disabled(db: Engine, username: str, disabled: bool = True) -> bool:
    """Disable (or enable) a user; False when there is no such user."""
    with db.begin() as conn:
        done = conn.execute(
            text(
                "UPDATE service_users SET disabled = :d, disabled_at = :now WHERE username = :u"
            ).bindparams(_NOW),
            {"d": disabled, "now": dt.datetime.now(dt.UTC) if disabled else None, "u": username},
        )
    return bool(done.rowcount)


def user_by_name(db: Engine, username: str) -> UserRow | None:
    with db.connect() as conn:
        row = conn.execute(
            text(f"SELECT {_USER_COLUMNS} FROM service_users WHERE username = :u"),
            {"u": username},
        ).first()
    return None if row is None else _user(row)


def list_users(db: Engine) -> list[UserRow]:
    with db.connect() as conn:
        rows = conn.execute(text(f"SELECT {_USER_COLUMNS} FROM service_users ORDER BY username"))
        return [_user(r) for r in rows]


def user_count(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM service_users")).scalar_one())


def insert_api_key(db: Engine, key_id: str, secret_sha256: str, name: str, role: str) -> ApiKeyRow:
    now = dt.datetime.now(dt.UTC)
    with db.begin() as conn:
        taken = conn.execute(
            text("SELECT 1 FROM service_api_keys WHERE key_id = :k"), {"k": key_id}
        ).first()
        if taken is not None:
            raise CallerExistsError(f"key {key_id!r} already exists")
        conn.execute(
            text(
                "INSERT INTO service_api_keys (key_id, secret_sha256, name, role, created_at)"
                " VALUES (:k, :s, :n, :r, :now)"
            ).bindparams(_NOW),
            {"k": key_id, "s": secret_sha256, "n": name, "r": role, "now": now},
        )
    return ApiKeyRow(key_id, secret_sha256, name, role, now, None)


def revoke_api_key(db: Engine, key_id: str) -> bool:
    """Revoke a key; False when there is no such key not already revoked."""
    with db.begin() as conn:
        done = conn.execute(
            text(
                "UPDATE service_api_keys SET revoked_at = :now"
                " WHERE key_id = :k AND revoked_at IS NULL"
            ).bindparams(_NOW),
            {"now": dt.datetime.now(dt.UTC), "k": key_id},
        )
    return bool(done.rowcount)


def api_key_by_id(db: Engine, key_id: str) -> ApiKeyRow | None:
    with db.connect() as conn:
        row = conn.execute(
            text(f"SELECT {_KEY_COLUMNS} FROM service_api_keys WHERE key_id = :k"), {"k": key_id}
        ).first()
    return None if row is None else _key(row)


def list_api_keys(db: Engine) -> list[ApiKeyRow]:
    with db.connect() as conn:
        rows = conn.execute(text(f"SELECT {_KEY_COLUMNS} FROM service_api_keys ORDER BY id"))
        return [_key(r) for r in rows]
