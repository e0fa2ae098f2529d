"""The audit chain's pure rules: hashes over canonical records, and the first break found."""

from __future__ import annotations

import dataclasses
import datetime as dt

from cardpilot.audit.chain import (
    GENESIS,
    AuditEntry,
    AuditRecord,
    digest_of,
    first_break,
    next_record,
)

T0 = dt.datetime(2026, 12, 5, 11, 0, tzinfo=dt.UTC)


def _chain(n: int) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    for i in range(n):
        entry = AuditEntry("os:analyst", "case.open", f"case:{i}", {"i": i, "text": "复核"})
        records.append(next_record(records[-1] if records else None, entry, T0))
    return records


def test_a_chain_links_each_record_to_the_hash_of_the_one_before() -> None:
    records = _chain(3)
    assert records[0].prev_hash == GENESIS
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[1].prev_hash == records[0].hash
    assert records[2].prev_hash == records[1].hash
    assert first_break(records) is None


def test_digests_do_not_depend_on_key_order() -> None:
    assert digest_of({"a": 1, "b": [1, 2]}) == digest_of({"b": [1, 2], "a": 1})


def test_a_changed_field_breaks_the_chain_at_that_record() -> None:
    records = _chain(4)
    records[2] = dataclasses.replace(records[2], actor="os:someone-else")
    broken = first_break(records)
    assert broken is not None
    assert broken.seq == 3
    assert "changed" in broken.reason


def test_a_changed_payload_breaks_the_chain_at_that_record() -> None:
    records = _chain(3)
    records[1] = dataclasses.replace(records[1], payload='{"i":99}')
    broken = first_break(records)
    assert broken is not None
    assert broken.seq == 2
    assert "payload" in broken.reason


def test_a_deleted_record_breaks_the_chain_at_the_next_one() -> None:
    records = _chain(4)
    del records[1]
    broken = first_break(records)
    assert broken is not None
    assert broken.seq == 3
    assert "missing" in broken.reason


def test_a_rehashed_record_still_breaks_the_link_of_the_next() -> None:
    records = _chain(3)
    forged = next_record(records[0], AuditEntry("x", "case.open", "case:1", {"forged": True}), T0)
    records[1] = forged
    broken = first_break(records)
    assert broken is not None
    assert broken.seq == 3
    assert "prev_hash" in broken.reason


def test_naive_and_utc_timestamps_hash_alike() -> None:
    entry = AuditEntry("a", "b", "c", {})
    aware = next_record(None, entry, T0)
    naive = dataclasses.replace(aware, at=T0.replace(tzinfo=None))
    assert first_break([naive]) is None
