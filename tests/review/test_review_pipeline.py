"""The review's pipeline between processes: large frames cross as Arrow IPC files in shared
memory (cardpilot.store.handoff); the same frames arrive, no file stays behind, a killed
review's files are removed by the next, the review decides the same either way; chunk sizes."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from cardpilot.jobs.review import review_portfolio
from cardpilot.store import adbc_decisions, adbc_statements, handoff
from cardpilot.store.db import make_engine
from cardpilot.store.limit_decisions import DecisionChunk, read_decisions

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
    with handoff.handoff_directory() as folder:
        handoff.send_message(stream, ("chunk", {"statements": frame, "n": 3}), folder)
        assert len(list(folder.iterdir())) == 1
        assert stream.tell() < 10_000  # the message names the file; the rows are not in it
        stream.seek(0)
        kind, payload = handoff.receive_message(stream)
        assert list(folder.iterdir()) == []
    assert not folder.exists()
    assert kind == "chunk"
    assert payload["n"] == 3
    assert payload["statements"].schema == frame.schema
    assert payload["statements"].equals(frame)


def test_small_frames_and_messages_without_a_folder_stay_in_the_pipe():
    stream = io.BytesIO()
    with handoff.handoff_directory() as folder:
        handoff.send_message(stream, _frame(10), folder)
        handoff.send_message(stream, _frame(20_000))
        assert list(folder.iterdir()) == []
    stream.seek(0)
    assert handoff.receive_message(stream).equals(_frame(10))
    assert handoff.receive_message(stream).equals(_frame(20_000))


def test_a_killed_reviews_handoff_directory_is_removed_by_the_next():
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(gone.stdout)
    root = handoff.handoff_root()
    stale = root / f"{handoff.HANDOFF_PREFIX}{dead_pid}-test"
    stale.mkdir()
    (stale / "left.arrow").write_bytes(b"x" * 1024)
    try:
        with handoff.handoff_directory():
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
    monkeypatch.setenv(handoff.HANDOFF_MIN_ROWS_ENV, "1")
    through_files = review_portfolio(files_url, scorer, as_of=AS_OF, chunk_rows=400)
    monkeypatch.setenv(handoff.HANDOFF_MIN_ROWS_ENV, str(10**12))
    through_pipe = review_portfolio(sqlite_store, scorer, as_of=AS_OF, chunk_rows=400)
    assert through_files.decided == through_pipe.decided > 400
    a = read_decisions(make_engine(files_url)).drop("id", "run_id", "decided_at", strict=False)
    b = read_decisions(make_engine(sqlite_store)).drop("id", "run_id", "decided_at", strict=False)
    assert a.equals(b)


def test_large_chunks_ramp_up_and_down_and_small_ones_do_not():
    from itertools import accumulate, islice

    from cardpilot.store.account_chunks import chunk_sizes

    def covering(total: int) -> list[int]:
        sizes = list(islice(chunk_sizes(100_000, total), 100))
        ends = list(accumulate(sizes))
        return sizes[: next(i for i, end in enumerate(ends) if end >= total) + 1]

    assert covering(1_000_000) == [25_000, 50_000, *[100_000] * 8, 50_000, 50_000, 25_000]
    assert sum(covering(1_000_000)) == 1_000_000
    assert covering(60_000) == [25_000, 50_000]
    assert list(islice(chunk_sizes(100_000), 4)) == [25_000, 50_000, 100_000, 100_000]
    assert list(islice(chunk_sizes(500, 10_000), 3)) == [500, 500, 500]


def _stored_rows(url: str, accounts: list[str]) -> pl.DataFrame:
    from sqlalchemy import text

    from cardpilot.store.frame_reads import query_frame
    from cardpilot.store.limit_decisions import DECISION_COLUMNS

    schema = {c: pl.String() for c in DECISION_COLUMNS}
    ints = ("run_id", "score", "old_limit_minor", "new_limit_minor", "increase_pct_bp")
    schema.update({c: pl.Int64() for c in (*ints, "consecutive_overdue_months")})
    schema.update({"pd": pl.Float64(), "as_of": pl.Date(), "due_for_review": pl.Boolean()})
    names = ", ".join(f"'{a}'" for a in accounts)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(
                text(
                    "INSERT INTO review_runs (id, cycle_id, as_of, policy_version, engine,"
                    " status, started_at, skipped, decided, increases, keeps, decreases, watched)"
                    " SELECT 2, cycle_id, as_of, policy_version, engine, 'running', started_at,"
                    " 0, 0, 0, 0, 0, 0 FROM review_runs WHERE id = 1"
                )
            )
            conn.commit()
            cols = ", ".join(DECISION_COLUMNS)
            frame = query_frame(
                conn,
                f"SELECT {cols} FROM limit_decisions WHERE account_id IN ({names})"
                " ORDER BY account_id",
                {},
                schema,
            )
    finally:
        engine.dispose()
    return frame.with_columns(
        pl.col("due_for_review").cast(pl.Boolean),
        pl.lit(2, pl.Int64).alias("run_id"),
        (pl.col("old_limit_minor") + 100_000).alias("new_limit_minor"),
        pl.lit("increase").alias("action"),  # a decrease would wait for its notice period
    )


def _limits(url: str, accounts: list[str]) -> dict[str, int]:
    from sqlalchemy import text

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT account_id, credit_limit_minor FROM accounts")).all()
    finally:
        engine.dispose()
    return {a: int(v) for a, v in rows if a in accounts}


def _chunk_write(rows: pl.DataFrame, accounts: list[str]) -> DecisionChunk:
    """What the review's run 2 writes for ``rows``."""
    from cardpilot.policy.loading import load_policy
    from cardpilot.watch.rules import watch_start

    return DecisionChunk(
        rows=rows,
        text_sets={},  # the stored rows' sets are in the store already
        run_id=2,
        first=accounts[0],
        last=accounts[-1],
        effective=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
        skipped=0,
        watch=watch_start(load_policy(), AS_OF),
        decrease_effective_on=AS_OF + dt.timedelta(days=7),
    )


@pytest.mark.parametrize("already_decided", [0, 3])
def test_a_chunk_whose_decisions_exist_in_part_updates_only_the_accounts_it_decided(
    loaded_store, scorer, already_decided
):
    review_portfolio(loaded_store, scorer, as_of=AS_OF, chunk_rows=400)
    accounts = sorted(read_decisions(make_engine(loaded_store))["account_id"].head(5).to_list())
    rows = _stored_rows(loaded_store, accounts)
    # The first ``already_decided`` accounts keep the cycle they were decided in (conflict);
    # the others are decided for a new cycle.
    rows = rows.with_columns(
        pl.when(pl.int_range(pl.len()) < already_decided)
        .then(pl.col("cycle_id"))
        .otherwise(pl.lit("2099-H1"))
        .alias("cycle_id")
    )
    before = _limits(loaded_store, accounts)
    chunk = _chunk_write(rows, accounts)
    with adbc_decisions.writer_connection(loaded_store) as connection:
        written = adbc_decisions.write_decisions(connection, chunk)
        adbc_decisions.commit_decisions(connection, chunk, written)
    assert written.inserted == sum(written.by_action.values()) == 5 - already_decided
    after = _limits(loaded_store, accounts)
    for n, account in enumerate(accounts):
        expected = before[account] if n < already_decided else rows["new_limit_minor"][n]
        assert after[account] == expected, account


def test_a_chunk_without_increases_does_not_look_for_watches_to_start(
    sqlite_store, scorer, monkeypatch
):
    review_portfolio(sqlite_store, scorer, as_of=AS_OF, chunk_rows=400)
    accounts = sorted(read_decisions(make_engine(sqlite_store))["account_id"].head(5).to_list())
    rows = _stored_rows(sqlite_store, accounts).with_columns(
        cycle_id=pl.lit("2099-H1"),
        action=pl.lit("keep"),
        new_limit_minor=pl.col("old_limit_minor"),
    )
    # A statement that fails if it runs.
    monkeypatch.setattr(
        adbc_decisions,
        "watch_start_statement",
        lambda *_, **__: ("SELECT no_such_column FROM limit_watch", {}),
    )
    chunk = _chunk_write(rows, accounts)
    with adbc_decisions.writer_connection(sqlite_store) as connection:
        written = adbc_decisions.write_decisions(connection, chunk)
        adbc_decisions.commit_decisions(connection, chunk, written)
    assert written.watched == 0
    assert written.by_action == {"keep": 5}


def test_the_sqlite_writer_holds_a_chunks_pages_in_its_own_cache(sqlite_store):
    from cardpilot.store.bulk import read_arrow_whole

    with adbc_decisions.writer_connection(sqlite_store) as connection:
        size = read_arrow_whole(connection, "PRAGMA cache_size").column(0)[0].as_py()
    assert size == -adbc_decisions.WRITER_CACHE_KIB


def test_decisions_appended_as_they_are_are_stored_as_the_staged_insert_stores_them(
    sqlite_store, scorer
):
    from cardpilot.store.bulk import read_arrow_whole

    review_portfolio(sqlite_store, scorer, as_of=AS_OF, chunk_rows=400)
    accounts = sorted(read_decisions(make_engine(sqlite_store))["account_id"].head(6).to_list())
    rows = _stored_rows(sqlite_store, accounts)
    columns = tuple(rows.columns)
    # Every value with its SQLite storage class: the two ways must not differ even there.
    typed = ", ".join(f"typeof({c}), {c}" for c in columns if c != "cycle_id")
    with adbc_decisions.writer_connection(sqlite_store) as connection:
        run = adbc_statements.execute_named
        run(connection, "BEGIN IMMEDIATE", {})
        appended = rows.with_columns(cycle_id=pl.lit("2099-H1"))
        assert adbc_decisions.append_new(connection, appended)
        staged = rows.with_columns(cycle_id=pl.lit("2099-H2"))
        adbc_decisions.insert_staged(connection, staged, columns)
        # Appending a chunk that holds an account already decided in the cycle writes nothing.
        assert not adbc_decisions.append_new(connection, appended.tail(2))
        stored = {
            cycle: read_arrow_whole(
                connection,
                f"SELECT {typed} FROM limit_decisions WHERE cycle_id = '{cycle}'"
                " ORDER BY account_id",
            ).to_pylist()
            for cycle in ("2099-H1", "2099-H2")
        }
        run(connection, "COMMIT", {})
    assert len(stored["2099-H1"]) == len(accounts)
    assert stored["2099-H1"] == stored["2099-H2"]


def test_the_cycle_counts_kept_while_writing_equal_a_count_of_the_stored_cycle(
    sqlite_store, scorer
):
    from cardpilot.jobs.review import cycle_counts

    result = review_portfolio(sqlite_store, scorer, as_of=AS_OF, chunk_rows=300)
    engine = make_engine(sqlite_store)
    try:
        stored = cycle_counts(engine, result.cycle_id)
    finally:
        engine.dispose()
    assert result.by_action == stored["action"]
    assert result.by_grade == stored["grade"]
    assert result.by_segment == stored["segment"]
    assert result.cycle_decisions == result.decided > 300


def test_the_writers_wal_is_restarted_once_it_outgrows_its_limit(sqlite_store):
    from cardpilot.store.bulk import execute
    from cardpilot.store.wal_checkpoint import checkpointing

    wal = Path(sqlite_store.removeprefix("sqlite:///") + "-wal")

    def write(connection, grade: str) -> None:
        execute(connection, "BEGIN IMMEDIATE")
        execute(connection, f"UPDATE accounts SET grade = '{grade}'")
        execute(connection, "COMMIT")

    with (
        adbc_decisions.writer_connection(sqlite_store) as connection,
        checkpointing(sqlite_store, connection, wal_limit_bytes=64 * 1024) as checkpoint,
    ):
        write(connection, "a")
        checkpoint.request()
        grown = wal.stat().st_size
        assert grown > 64 * 1024
        checkpoint.bound()
        execute(connection, "BEGIN IMMEDIATE")
        execute(connection, "UPDATE accounts SET grade = 'b' WHERE rowid = 1")
        execute(connection, "COMMIT")
        assert wal.stat().st_size <= 64 * 1024 < grown
