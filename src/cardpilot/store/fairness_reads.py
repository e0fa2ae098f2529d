"""The fairness report's reads: a review cycle's decisions beside their customers' protected
attributes and outcome labels.

This is the one read that puts sex and marital status next to a decision; it serves the
fairness report only (``cardpilot.fairness``) and nothing that scores or decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, text

from cardpilot.store.review_models import cycle_decisions

_DECISIONS = (
    # Dates as ISO text and the label as 0/1 on both stores, typed by _frame.
    "SELECT d.account_id, CAST(d.as_of AS VARCHAR(10)), d.action, d.grade, d.score, d.pd,"
    " c.sex, c.marital_status, c.birth_year, CAST(l.value AS INTEGER)"
    " FROM limit_decisions d"
    " JOIN accounts a ON a.account_id = d.account_id"
    " LEFT JOIN customers c ON c.customer_id = a.customer_id"
    " LEFT JOIN performance_labels l ON l.account_id = d.account_id AND l.label = :label"
    f" WHERE {cycle_decisions('d')}"
)


def latest_reviewed_cycle(db: Engine) -> str | None:
    """The cycle of the latest review run that decided an account, or None."""
    with db.connect() as conn:
        found = conn.execute(
            text(
                "SELECT r.cycle_id FROM review_runs r WHERE EXISTS"
                " (SELECT 1 FROM limit_decisions d WHERE d.run_id = r.id)"
                " ORDER BY r.id DESC LIMIT 1"
            )
        ).scalar()
    return None if found is None else str(found)


def reviewed_cycles(db: Engine) -> list[str]:
    """Every cycle a review run was started for, latest first (for error messages)."""
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT cycle_id, MAX(id) FROM review_runs GROUP BY cycle_id ORDER BY 2 DESC")
        ).all()
    return [str(r[0]) for r in rows]


def cycle_run_summary(db: Engine, cycle_id: str) -> dict[str, Any]:
    """Whether a run of the cycle finished, and the policy and model versions its decisions
    record."""
    params = {"cycle": cycle_id}
    with db.connect() as conn:
        finished = conn.execute(
            text(
                "SELECT COUNT(*) FROM review_runs WHERE cycle_id = :cycle AND status = 'finished'"
            ),
            params,
        ).scalar_one()
        versions = conn.execute(
            text(
                "SELECT DISTINCT policy_version, model_version FROM limit_decisions"
                f" WHERE {cycle_decisions()}"
            ),
            params,
        ).all()
    return {
        "complete": bool(finished),
        "policy_versions": sorted({str(v[0]) for v in versions if v[0] is not None}),
        "model_versions": sorted({str(v[1]) for v in versions if v[1] is not None}),
    }


def read_cycle_decisions(
    db: Engine, cycle_id: str, label: str, schema: Mapping[str, pl.DataType]
) -> pl.DataFrame:
    """One row per decision of the cycle: its action, grade, score and PD, the customer's sex,
    marital status and birth year, and the outcome ``label`` (null where none), as ``schema``."""
    with db.connect() as conn:
        return _frame(conn, _DECISIONS, {"cycle": cycle_id, "label": label}, schema)


def _frame(
    conn: Connection, sql: str, params: Mapping[str, Any], schema: Mapping[str, pl.DataType]
) -> pl.DataFrame:
    """The rows of ``sql`` (dates as ISO text, booleans as 0/1) as a frame of ``schema``."""
    rows = conn.execute(text(sql), dict(params)).all()
    raw = {
        name: pl.String() if dtype == pl.Date() else pl.Int64() if dtype == pl.Boolean() else dtype
        for name, dtype in schema.items()
    }
    frame = pl.DataFrame([tuple(r) for r in rows], schema=raw, orient="row")
    fixes = []
    for name, dtype in schema.items():
        if dtype == pl.Date():
            fixes.append(pl.col(name).str.slice(0, 10).str.to_date("%Y-%m-%d"))
        elif dtype == pl.Boolean():
            fixes.append(pl.col(name).cast(pl.Boolean))
    return frame.with_columns(fixes)
