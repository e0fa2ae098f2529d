"""The review's pipeline between processes: large frames cross as Arrow IPC files in shared
memory (cardpilot.jobs.review_bulk); the same frames arrive, no file stays behind, a killed
review's files are removed by the next, the review decides the same either way; chunk sizes."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl

from cardpilot.jobs import review_bulk
from cardpilot.jobs.review import read_decisions, review_portfolio
from cardpilot.store.db import make_engine

AS_OF = dt.date(2026, 5, 1)


def _frame(rows: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": [f"A{i:010d}" for i in range(rows)],
            "cycle_date": [dt.date(2026, 1, 1) + dt.timedelta(days=i % 300) for i in range(rows)],
            "balance_minor": [None if i % 7 == 0 else i * 100 for i in range(rows)],
            "pd": [i / rows for i in range(rows)],
            "reason_codes": [["RC_A", "RC_B"][: i % 3] for i in range(rows)],
        }
    )


def test_large_frames_cross_as_files_and_none_is_left_behind():
    frame = _frame(20_000)
    stream = io.BytesIO()
    with review_bulk.handoff_directory() as folder:
        review_bulk._send(stream, ("chunk", {"statements": frame, "n": 3}), folder)
        assert len(list(folder.iterdir())) == 1
        assert stream.tell() < 10_000  # the message names the file; the rows are not in it
        stream.seek(0)
        kind, payload = review_bulk._load(stream)
        assert list(folder.iterdir()) == []
    assert not folder.exists()
    assert kind == "chunk"
    assert payload["n"] == 3
    assert payload["statements"].schema == frame.schema
    assert payload["statements"].equals(frame)


def test_small_frames_and_messages_without_a_folder_stay_in_the_pipe():
    stream = io.BytesIO()
    with review_bulk.handoff_directory() as folder:
        review_bulk._send(stream, _frame(10), folder)
        review_bulk._send(stream, _frame(20_000))
        assert list(folder.iterdir()) == []
    stream.seek(0)
    assert review_bulk._load(stream).equals(_frame(10))
    assert review_bulk._load(stream).equals(_frame(20_000))


def test_a_killed_reviews_handoff_directory_is_removed_by_the_next():
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(gone.stdout)
    root = review_bulk._handoff_root()
    stale = root / f"{review_bulk._HANDOFF_PREFIX}{dead_pid}-test"
    stale.mkdir()
    (stale / "left.arrow").write_bytes(b"x" * 1024)
    try:
        with review_bulk.handoff_directory():
            assert not stale.exists()
    finally:
        shutil.rmtree(stale, ignore_errors=True)


def test_the_review_decides_the_same_through_files_and_through_the_pipe(
    sqlite_store, scorer, tmp_path, monkeypatch
):
    copy = tmp_path / "files.db"
    shutil.copy(Path(sqlite_store.removeprefix("sqlite:///")), copy)
    files_url = f"sqlite:///{copy}"
    # The helper processes inherit the environment: every frame through files, or none.
    monkeypatch.setenv(review_bulk.HANDOFF_MIN_ROWS_ENV, "1")
    through_files = review_portfolio(files_url, scorer, as_of=AS_OF, chunk_rows=400)
    monkeypatch.setenv(review_bulk.HANDOFF_MIN_ROWS_ENV, str(10**12))
    through_pipe = review_portfolio(sqlite_store, scorer, as_of=AS_OF, chunk_rows=400)
    assert through_files.decided == through_pipe.decided > 400
    a = read_decisions(make_engine(files_url)).drop("id", "run_id", "decided_at", strict=False)
    b = read_decisions(make_engine(sqlite_store)).drop("id", "run_id", "decided_at", strict=False)
    assert a.equals(b)


def test_large_chunks_ramp_up_and_small_ones_do_not():
    from itertools import islice

    from cardpilot.jobs.review import chunk_sizes

    assert list(islice(chunk_sizes(100_000), 4)) == [25_000, 50_000, 100_000, 100_000]
    assert list(islice(chunk_sizes(500), 3)) == [500, 500, 500]
