"""Pseudonymous ids for analytics exports: stable per secret, not reversible without it.

PIPL (to check: art. 73) distinguishes de-identified data; exports for modelling or reporting
carry these ids instead of account or customer ids, and never personal fields.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cardpilot.config import Settings

_SECRET_FILE = "pseudonym-secret"


class Pseudonymizer:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the pseudonym secret must be at least 16 bytes")
        self._secret = secret

    @classmethod
    def from_settings(cls, settings: Settings) -> Pseudonymizer:
        if settings.pseudonym_secret:
            return cls(settings.pseudonym_secret.encode("utf-8"))
        return cls(_load_or_create_secret(settings.home))

    def pseudonym(self, identifier: str) -> str:
        digest = hmac.new(self._secret, identifier.encode("utf-8"), hashlib.sha256).hexdigest()
        return "P" + digest[:20]

    def pseudonyms(self, identifiers: list[str]) -> list[str]:
        return [self.pseudonym(i) for i in identifiers]


def _load_or_create_secret(home: Path) -> bytes:
    path = home / _SECRET_FILE
    if path.exists():
        return path.read_bytes().strip()
    home.mkdir(parents=True, exist_ok=True)
    secret = os.urandom(32).hex().encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
    return secret
