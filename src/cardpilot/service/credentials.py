"""Callers' secrets: password hashes (Argon2id), API keys (a public id and the SHA-256 of a
random secret) and the short-lived JWTs staff sign in for, under signing keys with ids.

A token's header names the key that signed it (``kid``); every key of the ring verifies and the
active one signs, so a key is rotated by adding a new one, making it active, and removing the
old one once the tokens it signed have expired (``token_minutes``). The ring is configured
(``CARDPILOT_JWT_KEYS``) or kept in a key file of the home folder, one ``kid:SECRET`` a line,
the last one active, which ``rotate_key_file`` rotates (``cardpilot keys rotate-signing``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import itertools
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cardpilot.config import Settings

API_KEY_PREFIX = "cpk"
TOKEN_ALGORITHM = "HS256"
TOKEN_ISSUER = "cardpilot"
KEY_FILE = "jwt-keys"
KID_FORMAT = "k%Y%m%dT%H%M%SZ"
_HASHER = PasswordHasher()


class CredentialError(ValueError):
    """A secret that cannot be used: says which and why (never echoing the secret)."""


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise CredentialError("the password is too short: use at least 8 characters")
    return _HASHER.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    secret_sha256: str
    token: str  # shown once to whoever made it: ``cpk_<key_id>.<secret>``


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_api_key() -> NewApiKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(key_id, secret_digest(secret), f"{API_KEY_PREFIX}_{key_id}.{secret}")


def split_api_key(token: str) -> tuple[str, str] | None:
    """``cpk_<key_id>.<secret>`` as (key id, secret); None when it is not of that form."""
    head, dot, secret = token.partition(".")
    prefix, underscore, key_id = head.partition("_")
    if not (dot and underscore and prefix == API_KEY_PREFIX and key_id and secret):
        return None
    return key_id, secret


def secret_matches(stored_sha256: str, secret: str) -> bool:
    return hmac.compare_digest(stored_sha256, secret_digest(secret))


@dataclass(frozen=True)
class SigningKeys:
    """The token signing keys by id, and the id of the one that signs."""

    keys: dict[str, bytes]
    active: str

    @classmethod
    def parse(cls, text: str, active: str | None) -> SigningKeys:
        keys: dict[str, bytes] = {}
        for part in filter(None, (p.strip() for p in re.split(r"[,\n]", text))):
            kid, colon, secret = part.partition(":")
            if not colon or not kid or len(secret) < 32:
                raise CredentialError(
                    "CARDPILOT_JWT_KEYS: write kid:SECRET,… with secrets of 32 characters or more"
                )
            keys[kid] = secret.encode("utf-8")
        if not keys:
            raise CredentialError("CARDPILOT_JWT_KEYS holds no key")
        if active is None and len(keys) > 1:
            raise CredentialError("CARDPILOT_JWT_ACTIVE_KEY: name the key that signs")
        active = active or next(iter(keys))
        if active not in keys:
            raise CredentialError(f"CARDPILOT_JWT_ACTIVE_KEY {active!r} is not in the key ring")
        return cls(keys, active)

    @classmethod
    def from_settings(cls, settings: Settings) -> SigningKeys:
        """The configured ring, or the key file in the home folder (made on first use)."""
        if settings.jwt_keys:
            return cls.parse(settings.jwt_keys, settings.jwt_active_key)
        path = Path(settings.home) / KEY_FILE
        if not path.is_file():
            _write_key_file(path, [(_kid(dt.datetime.now(dt.UTC)), _new_secret())])
        text = path.read_text(encoding="utf-8").strip()
        parts = [p for p in re.split(r"[,\n]", text) if p.strip()]
        last = parts[-1].partition(":")[0].strip() if parts else None
        return cls.parse(text, settings.jwt_active_key or last)


def _new_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def _kid(made: dt.datetime) -> str:
    """A key's id: when it was made (UTC), which rotation reads back."""
    return made.astimezone(dt.UTC).strftime(KID_FORMAT)


def _made_at(kid: str) -> dt.datetime | None:
    for form in (KID_FORMAT, "k%Y%m%d"):  # the second: key files made before rotation was
        try:
            return dt.datetime.strptime(kid, form).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    return None


def _write_key_file(path: Path, keys: list[tuple[str, str]]) -> None:
    """The key file replaced whole (readable by its owner only), the active key last."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.new")
    staged.unlink(missing_ok=True)
    staged.touch(mode=0o600)
    staged.write_text("".join(f"{kid}:{secret}\n" for kid, secret in keys), encoding="utf-8")
    os.replace(staged, path)


@dataclass(frozen=True)
class Rotation:
    active: str  # the new signing key's id
    kept: list[str]  # older keys still verifying the tokens they signed
    retired: list[str]  # keys dropped: every token they signed has expired

    def as_json(self) -> dict[str, Any]:
        return {"active": self.active, "kept": self.kept, "retired": self.retired}


def rotate_key_file(settings: Settings, now: dt.datetime | None = None) -> Rotation:
    """A new signing key, made the active one, in the home folder's key file; a key whose
    successor was made more than ``token_minutes`` ago is dropped (every token it signed has
    expired). Running workers read the ring when they start: restart the service after."""
    if settings.jwt_keys:
        raise CredentialError(
            "the signing keys come from CARDPILOT_JWT_KEYS: rotate there (add a key, name it in"
            " CARDPILOT_JWT_ACTIVE_KEY, drop the old one after token_minutes)"
        )
    if settings.jwt_active_key:
        raise CredentialError(
            "CARDPILOT_JWT_ACTIVE_KEY names the signing key: unset it to rotate the key file"
        )
    now = now or dt.datetime.now(dt.UTC)
    if not (Path(settings.home) / KEY_FILE).is_file():  # the first key is the new one
        _write_key_file(Path(settings.home) / KEY_FILE, [(_kid(now), _new_secret())])
        return Rotation(_kid(now), [], [])
    ring = SigningKeys.from_settings(settings)
    new = _kid(now)
    if new in ring.keys:
        raise CredentialError(f"a key {new} was made this second already")
    order = [*ring.keys, new]
    lifetime = dt.timedelta(minutes=settings.token_minutes)
    kept: list[str] = []
    retired: list[str] = []
    for kid, successor in itertools.pairwise(order):
        made = _made_at(successor)
        (retired if made is not None and now - made > lifetime else kept).append(kid)
    keys = [(kid, ring.keys[kid].decode("utf-8")) for kid in kept] + [(new, _new_secret())]
    _write_key_file(Path(settings.home) / KEY_FILE, keys)
    return Rotation(new, kept, retired)


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    role: str
    expires: dt.datetime


def issue_token(keys: SigningKeys, subject: str, role: str, minutes: int) -> tuple[str, int]:
    """A signed token for ``subject`` in ``role``; returns it and its lifetime in seconds."""
    now = dt.datetime.now(dt.UTC)
    claims = {
        "sub": subject,
        "role": role,
        "iss": TOKEN_ISSUER,
        "iat": now,
        "exp": now + dt.timedelta(minutes=minutes),
    }
    token = jwt.encode(
        claims, keys.keys[keys.active], TOKEN_ALGORITHM, headers={"kid": keys.active}
    )
    return token, minutes * 60


def verify_token(keys: SigningKeys, token: str) -> TokenClaims:
    """The claims of a token signed by a key of the ring; ``CredentialError`` says why not."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise CredentialError("the bearer token is not a JWT") from exc
    secret = keys.keys.get(str(kid))
    if secret is None:
        raise CredentialError("the token was signed by a key that is no longer accepted")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            issuer=TOKEN_ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise CredentialError("the token has expired; sign in again") from exc
    except jwt.PyJWTError as exc:
        raise CredentialError(f"the token is not valid ({exc})") from exc
    expires = dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC)
    return TokenClaims(str(claims["sub"]), str(claims.get("role", "")), expires)
