"""The keys that protect personal data: the encryption key ring and the blind-index key.

Two independent secrets:

* the **key ring** (``CARDPILOT_PII_KEYS="k1:BASE64,k2:BASE64"``): AES-256 keys that encrypt
  personal fields. The **active** key, the one that encrypts, is always named
  (``CARDPILOT_PII_ACTIVE_KEY``); the order of the ring means nothing. Only a ring of a single
  key may leave it unnamed, since there is no choice to make.
* the **blind-index key** (``CARDPILOT_BLIND_INDEX_KEY="b1:BASE64"``): the HMAC key of the
  look-up index of national ids. It is not derived from any encryption key, so rotating the
  ring never changes an index value.

Without ``CARDPILOT_PII_KEYS`` (the embedded default for the demo), both live in files under
the home folder, made on first use with owner-only permissions.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from cardpilot.config import Settings

RING_FILE = "pii-keys"
BLIND_KEY_FILE = "blind-index-key"
KEY_BYTES = 32
MAX_KEY_ID = 32


class PiiKeyError(RuntimeError):
    """A key is missing, malformed, or a ciphertext does not authenticate."""


def _check_key(what: str, kid: str, key: bytes) -> None:
    if not kid or ":" in kid or "," in kid or len(kid) > MAX_KEY_ID or not kid.isascii():
        raise PiiKeyError(
            f"{what} id {kid!r} must be 1-{MAX_KEY_ID} ASCII characters without ':' or ','"
        )
    if len(key) != KEY_BYTES:
        raise PiiKeyError(f"{what} {kid!r} must be 32 bytes (256 bits), got {len(key)}")


def _parse_entries(spec: str, variable: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in spec.replace("\n", ",").split(","))):
        kid, sep, b64 = part.partition(":")
        if not sep:
            raise PiiKeyError(f"{variable} entries must look like 'keyid:base64key'")
        if kid in keys:
            raise PiiKeyError(f"{variable} names key {kid!r} twice")
        try:
            keys[kid] = base64.b64decode(b64, validate=True)
        except ValueError as exc:
            raise PiiKeyError(f"key {kid!r} in {variable} is not valid base64") from exc
    if not keys:
        raise PiiKeyError(f"{variable} holds no key")
    return keys


def _spec(kid: str, key: bytes) -> str:
    return f"{kid}:{base64.b64encode(key).decode()}"


@dataclass(frozen=True)
class KeyRing:
    """Named 256-bit keys; ``active`` is the one that encrypts, every one of them decrypts."""

    keys: Mapping[str, bytes]
    active: str

    def __post_init__(self) -> None:
        for kid, key in self.keys.items():
            _check_key("PII key", kid, key)
        if self.active not in self.keys:
            raise PiiKeyError(
                f"the active PII key {self.active!r} (CARDPILOT_PII_ACTIVE_KEY) is not on the "
                f"key ring ({', '.join(sorted(self.keys))})"
            )

    @classmethod
    def parse(cls, spec: str, active: str | None = None) -> KeyRing:
        """``"kid1:BASE64,kid2:BASE64"`` with the active key named by ``active``.

        A ring of one key needs no name; a ring of more than one without it is refused: which
        key encrypts is never guessed from the order the keys happen to be listed in.
        """
        keys = _parse_entries(spec, "CARDPILOT_PII_KEYS")
        if not active:
            if len(keys) != 1:
                raise PiiKeyError(
                    f"CARDPILOT_PII_ACTIVE_KEY is not set and the key ring holds "
                    f"{len(keys)} keys ({', '.join(sorted(keys))}): name the key that encrypts"
                )
            active = next(iter(keys))
        return cls(keys=keys, active=active)

    def to_spec(self) -> str:
        return ",".join(_spec(kid, key) for kid, key in self.keys.items())

    @classmethod
    def generate(cls, key_id: str = "k1") -> KeyRing:
        return cls(keys={key_id: AESGCM.generate_key(bit_length=256)}, active=key_id)


@dataclass(frozen=True)
class BlindIndexKey:
    """The HMAC key of the blind index, with the id every index value it makes carries."""

    key_id: str
    key: bytes

    def __post_init__(self) -> None:
        _check_key("blind-index key", self.key_id, self.key)

    @classmethod
    def parse(cls, spec: str) -> BlindIndexKey:
        """``"b1:BASE64"``: exactly one key."""
        keys = _parse_entries(spec, "CARDPILOT_BLIND_INDEX_KEY")
        if len(keys) != 1:
            raise PiiKeyError("CARDPILOT_BLIND_INDEX_KEY must hold exactly one 'keyid:base64key'")
        ((kid, key),) = keys.items()
        return cls(key_id=kid, key=key)

    def to_spec(self) -> str:
        return _spec(self.key_id, self.key)

    @classmethod
    def generate(cls, key_id: str = "b1") -> BlindIndexKey:
        return cls(key_id=key_id, key=os.urandom(KEY_BYTES))


def _write_private(path: Path, text: str) -> None:
    """``path`` holding ``text`` (mode 0600) unless it exists already (``FileExistsError``).

    The text is written whole to a file of this process's own first, then linked under the
    name: a process that finds the name finds the whole key, never a file another process has
    made but not written yet.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, draft = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:  # mkstemp makes it 0600
            fh.write(text + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.link(draft, path)
    finally:
        os.unlink(draft)


def _read_or_create(path: Path, make: str) -> str:
    if not path.exists():
        # Another process may have made it a moment before: then theirs is used.
        with suppress(FileExistsError):
            _write_private(path, make)
    return path.read_text(encoding="ascii").strip()


def load_or_create_local_ring(home: Path, active: str | None = None) -> KeyRing:
    """The embedded default: a key file under ``home`` (mode 0600), made on first use."""
    spec = _read_or_create(home / RING_FILE, KeyRing.generate("local-1").to_spec())
    return KeyRing.parse(spec, active)


def load_or_create_local_blind_key(home: Path) -> BlindIndexKey:
    """The embedded default blind-index key, in its own file beside the ring."""
    return BlindIndexKey.parse(
        _read_or_create(home / BLIND_KEY_FILE, BlindIndexKey.generate("local-b1").to_spec())
    )


def ring_from_settings(settings: Settings) -> KeyRing:
    if settings.pii_keys:
        return KeyRing.parse(settings.pii_keys, settings.pii_active_key)
    return load_or_create_local_ring(settings.home, settings.pii_active_key)


def blind_key_from_settings(settings: Settings) -> BlindIndexKey | None:
    """The configured blind-index key; ``None`` when the ring is configured but this is not.

    A deployment that passes its ring through the environment passes this key the same way:
    a key file quietly made on one machine would give every other machine other index values.
    Whatever needs the index then fails with an error naming the variable.
    """
    if settings.blind_index_key:
        return BlindIndexKey.parse(settings.blind_index_key)
    if settings.pii_keys:
        return None
    return load_or_create_local_blind_key(settings.home)
