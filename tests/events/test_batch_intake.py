"""The intake plans a batch while the one before is written: the plans see what the batches
before them will have written, the writes commit in order, and a failure leaves every batch
planned on top of it unwritten."""

from __future__ import annotations

from concurrent.futures import Future, wait
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cardpilot.events.policy import load_events_policy
from cardpilot.store.events import intake_digests, receipt_counts
from cardpilot.stream.batch_intake import BatchDone, BatchFailedBeforeError, Intake
from cardpilot.warning.policy import load_warning_policy

from .replay_support import (
    TZ,
    accept_receipts,
    account_ids,
    first_new_event,
    month_lines,
    refuse_receipt,
    replay,
    scored_store,
)

BATCH = 25


def _batches(lines: list[bytes]) -> list[list[bytes]]:
    return [lines[start : start + BATCH] for start in range(0, len(lines), BATCH)]


def _intake(engine: Engine) -> Intake:
    return Intake(engine, load_events_policy(), TZ, load_warning_policy())


def _digests(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return intake_digests(conn)


def _received(engine: Engine) -> int:
    with engine.connect() as conn:
        return sum(receipt_counts(conn).values())


def test_batches_submitted_at_once_end_as_when_handed_one_after_the_other(
    tmp_path: Path,
) -> None:
    accounts = account_ids(12)
    lines = month_lines(accounts)
    expected = replay(scored_store(f"sqlite:///{tmp_path / 'one.db'}", accounts), lines, BATCH)

    engine = scored_store(f"sqlite:///{tmp_path / 'all.db'}", accounts)
    intake = _intake(engine)
    finished: list[int] = []
    futures = []
    for n, batch in enumerate(_batches(lines)):
        future = intake.submit(batch)
        future.add_done_callback(lambda _, n=n: finished.append(n))
        futures.append(future)
    wait(futures)
    intake.close()
    assert [f.exception() for f in futures] == [None] * len(futures)
    assert finished == sorted(finished)
    assert _digests(engine) == expected


def test_a_failed_write_leaves_the_batches_planned_after_it_unwritten(tmp_path: Path) -> None:
    accounts = account_ids(12)
    lines = month_lines(accounts)
    batches = _batches(lines)
    failing = 3
    expected = replay(scored_store(f"sqlite:///{tmp_path / 'one.db'}", accounts), lines, BATCH)

    engine = scored_store(f"sqlite:///{tmp_path / 'failed.db'}", accounts)
    intake = _intake(engine)
    for batch in batches[:failing]:
        intake.process(batch)
    written = _received(engine)
    refuse_receipt(engine, first_new_event(batches, failing))
    finished: list[int] = []
    futures: list[Future[BatchDone]] = []
    for n in range(failing, failing + 3):
        future = intake.submit(batches[n])
        future.add_done_callback(lambda _, n=n: finished.append(n))
        futures.append(future)
    wait(futures)
    assert finished == [failing, failing + 1, failing + 2]
    with pytest.raises(Exception, match="receipt refused"):
        futures[0].result()
    for later in futures[1:]:
        with pytest.raises(BatchFailedBeforeError):
            later.result()
    assert _received(engine) == written
    assert not intake.held.height

    # Delivered again (the consumer acknowledged none of them), they go in as ever.
    accept_receipts(engine)
    for batch in batches[failing:]:
        intake.submit(batch)
    intake.process([])
    intake.close()
    assert _digests(engine) == expected
