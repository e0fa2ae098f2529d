"""The audit log in the store, on SQLite and PostgreSQL: appends, verify, tampering, and two
processes appending at once without forking the chain."""

from __future__ import annotations

import multiprocessing
import sys

import pytest

from cardpilot.audit.chain import AuditEntry
from cardpilot.store.audit import (
    append_audit,
    audited_transaction,
    iter_records,
    record_audit,
    rewrite_audit_value,
    verify_chain,
)
from cardpilot.store.db import make_engine, upgrade


def _entry(i: int) -> AuditEntry:
    return AuditEntry("os:test", "test.append", f"thing:{i}", {"i": i}, before=None, after={"i": i})


def test_appended_records_verify_and_read_back_in_order(store_url: str) -> None:
    upgrade(store_url)
    db = make_engine(store_url)
    try:
        for i in range(5):
            record_audit(db, _entry(i))
        checked, broken = verify_chain(db)
        assert (checked, broken) == (5, None)
        assert [r.subject for r in iter_records(db)] == [f"thing:{i}" for i in range(5)]
    finally:
        db.dispose()


def test_an_append_rolls_back_with_the_change_it_describes(store_url: str) -> None:
    upgrade(store_url)
    db = make_engine(store_url)
    try:

        def failing_change() -> None:
            with audited_transaction(db) as conn:
                append_audit(conn, _entry(1))
                raise RuntimeError("the change failed")

        with pytest.raises(RuntimeError):
            failing_change()
        assert list(iter_records(db)) == []
    finally:
        db.dispose()


@pytest.mark.parametrize("column", ["actor", "payload"])
def test_verify_names_the_record_altered_in_the_database(store_url: str, column: str) -> None:
    upgrade(store_url)
    db = make_engine(store_url)
    try:
        for i in range(4):
            record_audit(db, _entry(i))
        rewrite_audit_value(db, 3, column, '{"i":7}' if column == "payload" else "os:mallory")
        checked, broken = verify_chain(db)
        assert checked == 2
        assert broken is not None
        assert broken.seq == 3
    finally:
        db.dispose()


def _append_many(url: str, n: int, tag: str) -> None:
    db = make_engine(url)
    try:
        for i in range(n):
            record_audit(db, AuditEntry("os:test", "test.concurrent", f"{tag}:{i}", {"i": i}))
    finally:
        db.dispose()


@pytest.mark.skipif(sys.platform == "win32", reason="fork start method")
def test_two_processes_appending_at_once_keep_one_chain(store_url: str) -> None:
    upgrade(store_url)
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_append_many, args=(store_url, 40, tag)) for tag in ("a", "b")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    db = make_engine(store_url)
    try:
        checked, broken = verify_chain(db)
        assert (checked, broken) == (80, None)
    finally:
        db.dispose()
