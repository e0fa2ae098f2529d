"""The preview's one-account way (``store.one_account.account_rows`` scored by
``batch.account_scoring``) gives every account of a store the row ``score_chunk`` gives its
one-account chunk, and the one-row decision (``decide_limit_row``, the service's) the decision
``decide_limits`` gives the chunk: a reviewed synthetic store
(limit changes, so the overdue counts since the last change are read), on two days."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest
from service_support import END_CYCLE, MODEL, seeded_store

from cardpilot.batch.account_scoring import scored_account_row
from cardpilot.batch.scoring import reason_codes_of, score_chunk, score_reason_texts
from cardpilot.policy.catalogue import LIMITS, resolve_policy
from cardpilot.policy.limits import decide_limit_row, decide_limits
from cardpilot.policy.loading import load_policy
from cardpilot.scoring.account_score import score_codes
from cardpilot.scoring.registry import load_model_dir
from cardpilot.store.db import make_engine
from cardpilot.store.one_account import account_rows, review_chunk


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url, _ = seeded_store(tmp_path_factory.mktemp("rows"), accounts=150)
    return url


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@pytest.mark.parametrize("as_of", [END_CYCLE + dt.timedelta(days=1), dt.date(2026, 8, 15)])
def test_every_account_scores_and_decides_as_its_one_account_chunk(store, as_of):
    db = make_engine(store)
    model = load_model_dir(MODEL)
    policy = load_policy(resolve_policy(None, kind=LIMITS))
    texts = score_reason_texts(score_codes(model), {})
    with db.connect() as conn:
        ids = [r[0] for r in conn.exec_driver_sql("SELECT account_id FROM accounts")]
    compared = 0
    for account_id in ids:
        with db.connect() as conn:
            rows = account_rows(conn, account_id, as_of)
        chunk = review_chunk(db, account_id, as_of)
        assert rows is not None
        assert chunk is not None
        assert rows.reviewed == (chunk.accounts.height == 1)
        if not rows.reviewed:
            continue
        table = score_chunk(chunk, model, as_of)
        expected = table.row(0, named=True)
        row = scored_account_row(rows, model, as_of)
        assert row is not None
        differ = [k for k, v in expected.items() if not _same(row.get(k), v)]
        assert differ == [], (account_id, [(k, row.get(k), expected[k]) for k in differ])
        batch_texts = score_reason_texts(reason_codes_of(table), {})
        batch = decide_limits(table, policy, as_of, reason_texts=batch_texts)
        one = decide_limit_row(row, policy, as_of, reason_texts=texts)
        assert one == batch.row(0, named=True), account_id
        compared += 1
    assert compared > 100
    changed = pl.read_database("SELECT COUNT(*) AS n FROM limit_history", db)
    assert changed["n"][0] > 0  # the counts since a limit change were read
    db.dispose()
