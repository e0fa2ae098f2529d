"""The ADBC bulk path writes rows the SQLAlchemy models read back unchanged, on both stores."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from sqlalchemy import select

from cardpilot.store import bulk
from cardpilot.store.db import make_engine, upgrade
from cardpilot.store.models import Account, Customer, ImportRun


def test_bulk_is_refused_for_in_memory_sqlite() -> None:
    assert not bulk.supports_bulk("sqlite://")
    assert not bulk.supports_bulk("sqlite:///:memory:")
    assert bulk.supports_bulk("sqlite:////tmp/x.db")
    assert bulk.supports_bulk("postgresql://postgres@127.0.0.1/postgres")


def test_ingested_rows_read_back_through_the_models(store_url: str) -> None:
    upgrade(store_url)
    started = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    with bulk.bulk_connection(store_url) as conn:
        bulk.ingest(
            conn,
            "import_runs",
            pa.table(
                {
                    "source": ["bulk-test"],
                    "layout": ["generic"],
                    "started_at": pa.array([started], pa.timestamp("us", "UTC")),
                    "customers_added": [0],
                    "accounts_added": [1],
                    "statements_added": [0],
                    "transactions_added": [0],
                    "labels_added": [0],
                    "rejected": [0],
                }
            ),
        )
        staged = bulk.read_arrow(conn, "SELECT count(*) AS n FROM import_runs")
        conn.commit()
    assert staged.column("n")[0].as_py() >= 1
    engine = make_engine(store_url)
    with engine.connect() as connection:
        got = connection.execute(
            select(ImportRun.started_at).where(ImportRun.source == "bulk-test")
        ).scalar_one()
    engine.dispose()
    assert got.replace(tzinfo=dt.UTC) == started


def test_leaving_without_commit_rolls_back(store_url: str) -> None:
    upgrade(store_url)
    with bulk.bulk_connection(store_url) as conn:
        bulk.execute(conn, "DELETE FROM accounts")
    engine = make_engine(store_url)
    with engine.connect() as connection:
        # nothing was committed: whatever was there is still there
        connection.execute(select(Account.account_id).limit(1)).all()
        connection.execute(select(Customer.customer_id).limit(1)).all()
    engine.dispose()


@pytest.mark.parametrize("mode", ["create", "replace"])
def test_temporary_staging_tables(store_url: str, mode: str) -> None:
    upgrade(store_url)
    with bulk.bulk_connection(store_url) as conn:
        bulk.ingest(conn, "stage_bulk_test", pa.table({"a": [1, 2, 3]}), mode=mode, temporary=True)
        total = bulk.read_arrow(conn, "SELECT CAST(sum(a) AS BIGINT) AS s FROM stage_bulk_test")
    assert total.column("s")[0].as_py() == 6


def test_managed_connection_enforces_keys_and_rolls_back_what_was_not_committed(
    store_url: str,
) -> None:
    upgrade(store_url)
    orphan = pa.table({"account_id": ["nope"], "customer_id": ["nobody"], "currency": ["CNY"]})
    orphan = orphan.append_column("credit_limit_minor", pa.array([0], pa.int64()))
    with bulk.managed_connection(store_url) as conn:
        bulk.execute(conn, "BEGIN")
        with pytest.raises(Exception, match=r"(?i)foreign key"):
            bulk.ingest(conn, "accounts", orphan)
    with bulk.managed_connection(store_url) as conn:
        bulk.execute(conn, "BEGIN")
        bulk.ingest(conn, "customers", pa.table({"customer_id": ["C9"]}))
    # left without COMMIT: rolled back
    with bulk.managed_connection(store_url) as conn:
        assert (
            bulk.read_arrow(conn, "SELECT count(*) AS n FROM customers").column(0)[0].as_py() == 0
        )
