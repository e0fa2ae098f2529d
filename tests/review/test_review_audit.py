"""The audit trail of a review: one record per import and per review run, on SQLite and
PostgreSQL; ``cardpilot audit verify`` passes, and names the record altered in the database."""

from __future__ import annotations

import datetime as dt
import json

from typer.testing import CliRunner

from cardpilot.audit.decisions import digest_decisions
from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.jobs.review import review_portfolio
from cardpilot.store.audit import iter_records, rewrite_audit_value
from cardpilot.store.db import make_engine
from cardpilot.store.limit_decisions import read_decisions

runner = CliRunner()


def test_a_review_run_is_one_audit_record_with_its_counts_and_decisions_digest(
    loaded_store, scorer
):
    result = review_portfolio(loaded_store, scorer, as_of=dt.date(2026, 5, 1), notify=False)
    db = make_engine(loaded_store)
    try:
        records = list(iter_records(db))
        assert [r.action for r in records] == ["import.run", "review.run"]
        run = json.loads(records[1].payload)
        assert records[1].subject == f"review_run:{result.run_id}"
        assert run["status"] == "finished"
        assert run["decided"] == result.decided > 0
        assert sum(run["by_action"].values()) == result.decided == run["decisions_digested"]
        # The digest can be recomputed from the stored decisions (account order = chunk order).
        assert run["decisions_digest"] == digest_decisions([read_decisions(db, result.cycle_id)])
    finally:
        db.dispose()


def test_audit_verify_passes_then_names_the_altered_record(loaded_store, scorer):
    review_portfolio(loaded_store, scorer, as_of=dt.date(2026, 5, 1), notify=False)
    ok = runner.invoke(app, ["audit", "verify", "--database", loaded_store, "--json"])
    assert ok.exit_code == 0, ok.output
    assert envelope_data(ok.stdout) == {"ok": True, "checked": 2, "broken": None}

    db = make_engine(loaded_store)
    try:
        rewrite_audit_value(db, 1, "payload", '{"added":{"accounts":1}}')
    finally:
        db.dispose()
    broken = runner.invoke(app, ["audit", "verify", "--database", loaded_store, "--json"])
    assert broken.exit_code == 1
    report = envelope_data(broken.stdout)
    assert report["ok"] is False
    assert report["broken"]["seq"] == 1
    text = runner.invoke(app, ["audit", "verify", "--database", loaded_store])
    assert text.exit_code == 1
    assert "record 1" in text.output


def test_audit_export_gives_a_periods_records_as_json_lines(loaded_store, scorer, tmp_path):
    review_portfolio(loaded_store, scorer, as_of=dt.date(2026, 5, 1), notify=False)
    today = dt.datetime.now(dt.UTC).date()
    out = tmp_path / "audit.jsonl"
    args = ["audit", "export", "--database", loaded_store, "--out", str(out)]
    done = runner.invoke(app, [*args, "--from", str(today), "--to", str(today)])
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["action"] for r in lines] == ["import.run", "review.run"]
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    earlier = today - dt.timedelta(days=3)
    none = runner.invoke(app, [*args, "--from", str(earlier), "--to", str(earlier)])
    assert none.exit_code == 0
    assert out.read_text(encoding="utf-8") == ""
