"""An overdue treatment run is one audit record with its counts and the date's digest."""

from __future__ import annotations

import json

from cardpilot.jobs.overdue import treat_overdue
from cardpilot.store.audit import iter_records, verify_chain
from cardpilot.store.db import make_engine

from .conftest import AS_OF


def test_a_treatment_run_appends_one_record_with_its_counts(overdue_store: str, scorer) -> None:
    result = treat_overdue(overdue_store, scorer, as_of=AS_OF)
    again = treat_overdue(overdue_store, scorer, as_of=AS_OF)
    db = make_engine(overdue_store)
    try:
        runs = [r for r in iter_records(db) if r.action == "overdue.treat"]
        assert [r.subject for r in runs] == [
            f"overdue_run:{result.run_key}",
            f"overdue_run:{again.run_key}",
        ]
        first, second = (json.loads(r.payload) for r in runs)
        assert first["treated"] == result.treated > 0
        assert second["treated"] == 0
        # Nothing new on the date: the second run's digest of it is the first's.
        assert first["treatments_digest"] == second["treatments_digest"]
        assert verify_chain(db)[1] is None
    finally:
        db.dispose()
