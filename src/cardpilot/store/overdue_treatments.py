"""The overdue treatments in the store (``overdue_treatments``): the chunks the treatment job
reads, the statements one chunk's write runs, and the reads back.

A chunk's write inserts the decisions with ``ON CONFLICT (account_id, as_of) DO NOTHING`` and
then applies, from the decisions *that run inserted* (``WHERE run_key = :run`` over the chunk's
account range), the limit actions (``freeze``: status ``frozen``; ``cut``: the lower limit) with
their ``limit_history`` rows, source ``overdue``: a decision of another run is never applied
twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Connection, DateTime, Engine, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite

from cardpilot.overdue.treatment_postings import TREATMENT_CHARGES
from cardpilot.store.account_chunks import ACCOUNT_COLUMNS, STATEMENT_COLUMNS
from cardpilot.store.frame_reads import keyset_chunks, query_frame
from cardpilot.store.ledger import ledger_payments
from cardpilot.store.limit_decisions import CHANGE_COLUMNS
from cardpilot.store.overdue_models import OverdueTreatment

TREATED_STATUSES = ("active", "frozen")  # closed and charged-off accounts are not treated
# An account whose 和谐还款 plan is accepted or active is treated by the plan: no penalty on the
# planned principal, no freeze. ``plan advance`` moves a plan whose instalment was missed to
# broken, and the account is treated again from then on.
PLAN_TREATS = "'accepted', 'active'"
INSERT_BATCH_ROWS = 5_000

_ACCOUNTS = {k: v for k, v in ACCOUNT_COLUMNS.items() if k != "last_review_on"}
_CUSTOMER_OWN = ("birth_year", "education", "annual_income_minor")
_ACCOUNT_OWN = tuple(c for c in _ACCOUNTS if c not in _CUSTOMER_OWN)
# The statements the treatment ages: with the due date, which the ledger's payments are judged by.
_STATEMENTS = {**STATEMENT_COLUMNS, "due_date": pl.Date()}
BROKEN_PROMISES: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "broken_promises": pl.Int32(),
}


@dataclass
class TreatmentChunk:
    """One chunk of accounts for the treatment: the range ``[first, last]`` in id order."""

    first: str
    last: str
    accounts: pl.DataFrame  # treatable accounts not yet treated on as_of
    statements: pl.DataFrame  # theirs, up to as_of
    broken: pl.DataFrame  # account_id, broken_promises (和谐还款 plans broken by as_of)
    skipped: int  # treatable accounts of the range already treated on as_of
    seen: int  # accounts of the range
    on_plan: int = 0  # treatable accounts left to their accepted or active 和谐还款 plan
    # The ledger's recent payments of the range (``store.ledger.ledger_payments``).
    payments: pl.DataFrame | None = None


def read_treatment_chunks(
    db: Engine, as_of: dt.date, chunk_rows: int, *, skip_treated: bool = True
) -> Iterator[TreatmentChunk]:
    """The store's accounts in chunks of ``chunk_rows`` (keyset paging in account-id order);
    ``skip_treated`` False: accounts treated on ``as_of`` already are pending too (a
    simulation, which writes nothing, treats every account)."""
    statuses = ", ".join(f"'{s}'" for s in TREATED_STATUSES)

    def rest(conn: Connection, accounts: pl.DataFrame, lo: str, hi: str) -> TreatmentChunk:
        bounds = {"as_of": as_of, "lo": lo, "hi": hi}
        done = query_frame(
            conn,
            "SELECT account_id FROM overdue_treatments WHERE as_of = :as_of"
            " AND account_id BETWEEN :lo AND :hi",
            bounds,
            {"account_id": pl.String()},
        )
        statements = query_frame(
            conn,
            f"SELECT {', '.join('s.' + c for c in _STATEMENTS)}"
            " FROM statements s JOIN accounts a ON a.account_id = s.account_id"
            f" WHERE s.account_id BETWEEN :lo AND :hi AND a.status IN ({statuses})"
            " AND s.cycle_date <= :as_of",
            bounds,
            _STATEMENTS,
        )
        broken = query_frame(
            conn,
            "SELECT account_id, COUNT(*) FROM repayment_plans WHERE status = 'broken'"
            " AND status_on <= :as_of AND account_id BETWEEN :lo AND :hi"
            " GROUP BY account_id",
            bounds,
            BROKEN_PROMISES,
        )
        planned = query_frame(
            conn,
            "SELECT DISTINCT account_id FROM repayment_plans"
            f" WHERE status IN ({PLAN_TREATS}) AND offered_on <= :as_of"
            " AND account_id BETWEEN :lo AND :hi",
            bounds,
            {"account_id": pl.String()},
        )
        treatable = accounts.filter(pl.col("status").is_in(TREATED_STATUSES))
        undone = treatable.join(done, on="account_id", how="anti") if skip_treated else treatable
        pending = undone.join(planned, on="account_id", how="anti")
        return TreatmentChunk(
            first=lo,
            last=hi,
            accounts=pending,
            statements=statements.join(pending.select("account_id"), on="account_id", how="semi"),
            broken=broken,
            skipped=treatable.height - undone.height,
            seen=accounts.height,
            on_plan=undone.height - pending.height,
            payments=ledger_payments(conn, as_of, lo, hi),
        )

    return keyset_chunks(
        db,
        f"SELECT {', '.join('a.' + c for c in _ACCOUNT_OWN)},"
        f" {', '.join('c.' + c for c in _CUSTOMER_OWN)}"
        " FROM accounts a LEFT JOIN customers c ON c.customer_id = a.customer_id"
        " WHERE a.account_id > :after ORDER BY a.account_id LIMIT :n",
        _ACCOUNTS,
        chunk_rows,
        rest,
    )


# --------------------------------------------------------------------------- writing

_STORED_AS_IS = (
    "account_id",
    "as_of",
    "bucket",
    "days_past_due",
    "cures",
    "broken_promises",
    "overdue_balance_minor",
    "score",
    "pd",
    "risk_segment",
    "risk_level",
    "treatment",
    "fee_waived",
    "fee_waiver_share_bp",
    "penalty_interest_minor",
    "late_fee_minor",
    "fee_waived_minor",
    "due_date_extension_days",
    "limit_action",
    "limit_cut_share_bp",
    "old_limit_minor",
    "new_limit_minor",
    "first_contact_dpd",
    "contacts_per_week",
    "contact_tone",
    "harmony_eligible",
    "policy_version",
)


def treatment_records(
    decided: pl.DataFrame, run_key: str, model_version: str | None
) -> list[dict[str, Any]]:
    """The stored form of decided treatments: lists as JSON text, the daily rate as exact
    decimal text, the row's model version (else ``model_version``)."""
    rows = []
    for r in decided.iter_rows(named=True):
        row = {"run_key": run_key, **{c: r[c] for c in _STORED_AS_IS}}
        row["penalty_rate_daily"] = str(r["penalty_rate_daily"])
        row["eligible_plans"] = json.dumps(r["eligible_plans"] or [])
        for c in ("reason_codes", "reason_texts_zh", "reason_texts_en"):
            row[c] = json.dumps(r[c], ensure_ascii=False)
        row["model_version"] = r["model_version"] or model_version
        # A champion/challenger test's split (cardpilot.domain.experiments), when one ran.
        row["experiment"], row["arm"] = r.get("experiment"), r.get("arm")
        rows.append(row)
    return rows


def insert_treatments(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert treatments; one already stored for its account and date is left as it is."""
    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(OverdueTreatment).on_conflict_do_nothing(
        index_elements=["account_id", "as_of"]
    )
    for start in range(0, len(rows), INSERT_BATCH_ROWS):
        conn.execute(stmt, rows[start : start + INSERT_BATCH_ROWS])


# ``:run``, ``:lo``, ``:hi``: the run and the chunk's account range.
_ACTIONS_INSERTED = text(
    "SELECT limit_action, COUNT(*) FROM overdue_treatments WHERE run_key = :run"
    " AND account_id BETWEEN :lo AND :hi GROUP BY limit_action"
)
_HISTORY_INSERT = text(
    "INSERT INTO limit_history (account_id, effective_at, old_limit_minor, new_limit_minor,"
    " source, decision_id, policy_version, model_version, note)"
    " SELECT account_id, :effective_at, old_limit_minor, new_limit_minor, 'overdue',"
    " 'overdue_treatment:' || CAST(id AS VARCHAR(40)), policy_version, model_version,"
    " limit_action FROM overdue_treatments"
    " WHERE run_key = :run AND account_id BETWEEN :lo AND :hi AND limit_action <> 'none'"
).bindparams(bindparam("effective_at", type_=DateTime(timezone=True)))
# Freeze: the card cannot be used while overdue (status frozen, limit kept for later);
# cut: the lower limit. Accounts already frozen stay frozen.
_FREEZE_UPDATE = text(
    "UPDATE accounts SET status = 'frozen', credit_limit_minor = t.new_limit_minor"
    " FROM overdue_treatments t WHERE t.account_id = accounts.account_id AND t.run_key = :run"
    " AND t.account_id BETWEEN :lo AND :hi AND t.limit_action = 'freeze'"
)
_CUT_UPDATE = text(
    "UPDATE accounts SET credit_limit_minor = t.new_limit_minor"
    " FROM overdue_treatments t WHERE t.account_id = accounts.account_id AND t.run_key = :run"
    " AND t.account_id BETWEEN :lo AND :hi AND t.limit_action = 'cut'"
)


def apply_limit_actions(
    conn: Connection, run_key: str, first: str, last: str, as_of: dt.date
) -> dict[str, int]:
    """Apply the limit actions of the treatments ``run_key`` inserted for accounts
    ``first``..``last`` (history rows effective at midnight UTC of ``as_of``); returns the
    treatments inserted per limit action."""
    bounds = {"run": run_key, "lo": first, "hi": last}
    actions = {str(k): int(n) for k, n in conn.execute(_ACTIONS_INSERTED, bounds).all()}
    effective = dt.datetime.combine(as_of, dt.time(), tzinfo=dt.UTC)
    conn.execute(_HISTORY_INSERT, {**bounds, "effective_at": effective})
    conn.execute(_FREEZE_UPDATE, bounds)
    conn.execute(_CUT_UPDATE, bounds)
    return actions


# A treatment as its notice reads it: a decision's columns and the facts its templates show.
_NOTICE_ROWS: dict[str, pl.DataType] = {
    **CHANGE_COLUMNS,
    "risk_segment": pl.String(),
    "limit_action": pl.String(),
    "fee_waiver_share_bp": pl.Int32(),
    "penalty_interest_minor": pl.Int64(),
    "late_fee_minor": pl.Int64(),
    "fee_waived_minor": pl.Int64(),
    "due_date_extension_days": pl.Int32(),
    "penalty_rate_daily": pl.String(),
    "days_past_due": pl.Int32(),
    "contact_tone": pl.String(),
}


def inserted_treatments(conn: Connection, run_key: str, first: str, last: str) -> pl.DataFrame:
    """The treatments ``run_key`` inserted for accounts ``first``..``last`` with their
    accounts' customer and currency (what their notices say), in insertion order."""
    columns = ", ".join(
        f"a.{c}" if c in ("customer_id", "currency") else f"t.{c}" for c in _NOTICE_ROWS
    )
    return query_frame(
        conn,
        f"SELECT {columns} FROM overdue_treatments t"
        " JOIN accounts a ON a.account_id = t.account_id"
        " WHERE t.run_key = :run AND t.account_id BETWEEN :lo AND :hi ORDER BY t.id",
        {"run": run_key, "lo": first, "hi": last},
        _NOTICE_ROWS,
    )


def inserted_charges(conn: Connection, run_key: str, first: str, last: str) -> pl.DataFrame:
    """What the treatments ``run_key`` inserted for accounts ``first``..``last`` post to the
    ledger: their charges, waivers and limit actions, with the account's currency
    (``overdue.treatment_postings.TREATMENT_CHARGES``)."""
    columns = ", ".join("a.currency" if c == "currency" else f"t.{c}" for c in TREATMENT_CHARGES)
    return query_frame(
        conn,
        f"SELECT {columns} FROM overdue_treatments t"
        " JOIN accounts a ON a.account_id = t.account_id"
        " WHERE t.run_key = :run AND t.account_id BETWEEN :lo AND :hi ORDER BY t.id",
        {"run": run_key, "lo": first, "hi": last},
        TREATMENT_CHARGES,
    )


# --------------------------------------------------------------------------- reading back

TREATMENT_COLUMNS: dict[str, pl.DataType] = {
    "decision_id": pl.Int64(),
    "account_id": pl.String(),
    "as_of": pl.Date(),
    "risk_segment": pl.String(),
    "risk_level": pl.String(),
    "bucket": pl.String(),
    "days_past_due": pl.Int32(),
    "cures": pl.Int32(),
    "broken_promises": pl.Int32(),
    "overdue_balance_minor": pl.Int64(),
    "score": pl.Int32(),
    "pd": pl.Float64(),
    "treatment": pl.String(),
    "penalty_rate_daily": pl.String(),
    "fee_waived": pl.Int32(),
    "fee_waiver_share_bp": pl.Int32(),
    "penalty_interest_minor": pl.Int64(),
    "late_fee_minor": pl.Int64(),
    "fee_waived_minor": pl.Int64(),
    "due_date_extension_days": pl.Int32(),
    "limit_action": pl.String(),
    "limit_cut_share_bp": pl.Int32(),
    "old_limit_minor": pl.Int64(),
    "new_limit_minor": pl.Int64(),
    "first_contact_dpd": pl.Int32(),
    "contacts_per_week": pl.Int32(),
    "contact_tone": pl.String(),
    "harmony_eligible": pl.Int32(),
    "reason_codes": pl.String(),
    "reason_texts_zh": pl.String(),
    "reason_texts_en": pl.String(),
    "policy_version": pl.String(),
    "model_version": pl.String(),
}


def read_treatments(db: Engine, as_of: dt.date | None = None) -> pl.DataFrame:
    """The stored treatments (of one date, or all) in account order, reason lists decoded."""
    renamed = {
        "decision_id": "id",
        "fee_waived": "CAST(fee_waived AS INTEGER)",
        "harmony_eligible": "CAST(harmony_eligible AS INTEGER)",
    }
    cols = ", ".join(renamed.get(c, c) for c in TREATMENT_COLUMNS)
    where = "WHERE as_of = :as_of" if as_of else ""
    with db.connect() as conn:
        frame = query_frame(
            conn,
            f"SELECT {cols} FROM overdue_treatments {where} ORDER BY account_id, as_of",
            {"as_of": as_of} if as_of else {},
            TREATMENT_COLUMNS,
        )
    lists = pl.List(pl.String())
    return frame.with_columns(
        pl.col("fee_waived").cast(pl.Boolean),
        pl.col("harmony_eligible").cast(pl.Boolean),
        *(
            pl.col(c).str.json_decode(lists)
            for c in ("reason_codes", "reason_texts_zh", "reason_texts_en")
        ),
    )
