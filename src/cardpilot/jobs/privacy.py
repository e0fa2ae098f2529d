"""Key rotation: what each key still protects, and re-encrypting it under the active key.

The procedure (docs/privacy.md): name the new key active and keep the old one on the ring; run
``rotate``, which re-encrypts every value still under another key, and rebuilds every blind
index made under another blind-index key, in batches of one transaction each; ``status`` then
shows nothing under the old key, which can leave the ring. A ring that lacks a key the store
still uses is refused, naming the key and how many values it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from sqlalchemy import Engine

from cardpilot.batch.kill_hook import KillHook
from cardpilot.privacy import FieldCipher, PiiKeyError
from cardpilot.privacy.cipher import blind_index_prefix, ciphertext_prefix
from cardpilot.store.personal_data import (
    KeyCount,
    PersonalRow,
    count_to_rewrite,
    key_counts,
    rewrite_batch,
)

# The crash-safety test's hook: "after:N" / "before_commit:N" kills the rotation at batch N.
KILL_HOOK_ENV = "CARDPILOT_TEST_KILL_ROTATE"
DEFAULT_BATCH_SIZE = 1000


@dataclass
class KeyStatus:
    """Which key made how many values, against the ring now configured."""

    active_key: str
    ring: list[str]
    blind_index_key: str | None
    counts: list[KeyCount]

    def _totals(self, kind: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.counts:
            if c.kind == kind:
                out[c.key_id] = out.get(c.key_id, 0) + c.values
        return out

    @property
    def missing_keys(self) -> dict[str, int]:
        """Keys that made values but are not on the ring: those values cannot be read."""
        used = self._totals("ciphertext")
        return {k: n for k, n in sorted(used.items()) if k not in self.ring}

    @property
    def under_other_keys(self) -> int:
        return sum(n for k, n in self._totals("ciphertext").items() if k != self.active_key)

    @property
    def stale_blind_index(self) -> int:
        return sum(n for k, n in self._totals("blind_index").items() if k != self.blind_index_key)

    @property
    def retirable(self) -> list[str]:
        """Keys on the ring that no value needs any more."""
        used = self._totals("ciphertext")
        return [k for k in self.ring if k != self.active_key and not used.get(k)]

    def as_json(self) -> dict[str, object]:
        return {
            "active_key": self.active_key,
            "ring": self.ring,
            "blind_index_key": self.blind_index_key,
            "columns": [
                {
                    "table": c.table,
                    "column": c.column,
                    "kind": c.kind,
                    "key_id": c.key_id,
                    "values": c.values,
                }
                for c in self.counts
            ],
            "values_under_other_keys": self.under_other_keys,
            "blind_index_values_to_rebuild": self.stale_blind_index,
            "missing_keys": self.missing_keys,
            "retirable_keys": self.retirable,
            "ok": not self.missing_keys,
        }


def key_status(engine: Engine, cipher: FieldCipher) -> KeyStatus:
    blind = cipher.blind_key
    return KeyStatus(
        active_key=cipher.active_key_id,
        ring=sorted(cipher.ring.keys),
        blind_index_key=blind.key_id if blind else None,
        counts=key_counts(engine),
    )


def missing_key_message(missing: dict[str, int]) -> str:
    """One line naming each key the store still uses that is not on the ring."""
    named = ", ".join(f"{k!r} ({n:,} values)" for k, n in missing.items())
    return (
        f"the key ring lacks {named} still in use in the store: put the key back on "
        "CARDPILOT_PII_KEYS and run `cardpilot privacy rotate` before retiring it"
    )


def require_ring_covers_store(engine: Engine, cipher: FieldCipher) -> KeyStatus:
    """The store's key status; a ``PiiKeyError`` when a key it still uses is off the ring."""
    status = key_status(engine, cipher)
    if status.missing_keys:
        raise PiiKeyError(missing_key_message(status.missing_keys))
    return status


@dataclass
class RotateResult:
    active_key: str
    blind_index_key: str
    before: KeyStatus
    after: KeyStatus | None = None
    rows_to_rewrite: int = 0
    rows_rewritten: int = 0
    batches: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "active_key": self.active_key,
            "blind_index_key": self.blind_index_key,
            "rows_to_rewrite": self.rows_to_rewrite,
            "rows_rewritten": self.rows_rewritten,
            "batches": self.batches,
            "before": self.before.as_json(),
            "after": self.after.as_json() if self.after else None,
        }


def _rewriter(cipher: FieldCipher) -> Callable[[PersonalRow], PersonalRow]:
    def rewrite(row: PersonalRow) -> PersonalRow:
        national_id = row.national_id_enc
        index = row.national_id_hmac
        if national_id is not None and not cipher.blind_index_is_current(index):
            index = cipher.blind_index(cipher.decrypt(national_id))
        new = replace(
            row,
            name_enc=cipher.reencrypt(row.name_enc),
            national_id_enc=cipher.reencrypt(national_id),
            phone_enc=cipher.reencrypt(row.phone_enc),
            email_enc=cipher.reencrypt(row.email_enc),
            national_id_hmac=index,
        )
        fields = (new.name_enc, new.national_id_enc, new.phone_enc, new.email_enc)
        if any(v is not None for v in fields):
            new.pii_key_id = cipher.active_key_id
        return new

    return rewrite


def rotate(
    engine: Engine,
    cipher: FieldCipher,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> RotateResult:
    """Re-encrypt every value under another key, and rebuild every blind index made under
    another blind-index key, ``batch_size`` rows per transaction.

    Killed at any point, every value is still readable (a batch is written whole or not at
    all) and a rerun carries on with the rows still to do.
    """
    before = require_ring_covers_store(engine, cipher)
    result = RotateResult(cipher.active_key_id, cipher.blind_key_id, before=before)
    active = ciphertext_prefix(cipher.active_key_id)
    blind = blind_index_prefix(cipher.blind_key_id)
    result.rows_to_rewrite = count_to_rewrite(engine, active, blind)
    if progress:
        progress(0, result.rows_to_rewrite)
    hook = KillHook.from_env(KILL_HOOK_ENV)
    rewrite = _rewriter(cipher)
    after: str | None = None
    while True:
        batch_no = result.batches + 1
        last, written = rewrite_batch(
            engine,
            after=after,
            limit=batch_size,
            active_prefix=active,
            blind_prefix=blind,
            rewrite=rewrite,
            before_commit=partial(hook.inside_transaction, batch_no) if hook else None,
        )
        if last is None:
            break
        result.batches = batch_no
        if hook:
            hook.after_commit(batch_no)
        result.rows_rewritten += written
        after = last
        if progress:
            progress(result.rows_rewritten, result.rows_to_rewrite)
    result.after = key_status(engine, cipher)
    return result
