"""Users and API keys: made, disabled, revoked and listed (``cardpilot users``, ``cardpilot
keys``), and the token signing key rotated, each change audited; and the first admin, from the
environment."""

from __future__ import annotations

from sqlalchemy import Engine

from cardpilot.audit.chain import AuditEntry
from cardpilot.config import Settings
from cardpilot.policy.permissions import PermissionMatrix
from cardpilot.service.credentials import (
    CredentialError,
    Rotation,
    hash_password,
    new_api_key,
    rotate_key_file,
)
from cardpilot.store.audit import default_actor, record_audit
from cardpilot.store.service_callers import (
    ApiKeyRow,
    CallerExistsError,
    UserRow,
    add_user,
    insert_api_key,
    revoke_api_key,
    set_user_disabled,
    user_by_name,
)


def _role(matrix: PermissionMatrix, role: str) -> str:
    if role not in matrix.roles:
        raise CredentialError(f"--role {role!r}: use one of {', '.join(matrix.roles)}")
    return role


def create_user(
    db: Engine, matrix: PermissionMatrix, username: str, password: str, role: str
) -> UserRow:
    if not username.strip() or len(username) > 128:
        raise CredentialError("a user name is 1 to 128 characters")
    user = add_user(db, username, hash_password(password), _role(matrix, role))
    payload = {"username": username, "role": role}
    record_audit(db, AuditEntry(default_actor(), "user.add", f"user:{username}", payload))
    return user


def disable_user(db: Engine, username: str) -> None:
    if not set_user_disabled(db, username, True):
        raise CredentialError(f"no user {username!r}; see cardpilot users list")
    payload = {"username": username, "disabled": True}
    record_audit(db, AuditEntry(default_actor(), "user.disable", f"user:{username}", payload))


def create_key(
    db: Engine, matrix: PermissionMatrix, name: str, role: str = "system"
) -> tuple[ApiKeyRow, str]:
    """A new API key; returns it and the key itself, which is shown this once."""
    made = new_api_key()
    row = insert_api_key(db, made.key_id, made.secret_sha256, name, _role(matrix, role))
    payload = {"key_id": made.key_id, "name": name, "role": role}
    record_audit(db, AuditEntry(default_actor(), "key.create", f"key:{made.key_id}", payload))
    return row, made.token


def revoke_key(db: Engine, key_id: str) -> None:
    if not revoke_api_key(db, key_id):
        raise CredentialError(f"no live key {key_id!r}; see cardpilot keys list")
    payload = {"key_id": key_id}
    record_audit(db, AuditEntry(default_actor(), "key.revoke", f"key:{key_id}", payload))


def rotate_signing_key(db: Engine, settings: Settings) -> Rotation:
    """A new token signing key in the home folder's key file (``rotate_key_file``); audited
    with the key ids, never a secret."""
    rotation = rotate_key_file(settings)
    subject = f"signing_key:{rotation.active}"
    record_audit(db, AuditEntry(default_actor(), "signing_key.rotate", subject, rotation.as_json()))
    return rotation


def bootstrap_admin(db: Engine, matrix: PermissionMatrix, settings: Settings) -> str | None:
    """The admin named by ``CARDPILOT_ADMIN_USER`` / ``CARDPILOT_ADMIN_PASSWORD``, made when
    no user of that name exists; returns the name when it was made."""
    name, password = settings.admin_user, settings.admin_password
    if not name or not password:
        return None
    if user_by_name(db, name) is not None:
        return None
    try:
        create_user(db, matrix, name, password, "admin")
    except CallerExistsError:  # another process made it first
        return None
    return name
