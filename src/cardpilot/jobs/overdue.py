"""The overdue treatment over the store (issue #7 item 3): ``cardpilot overdue treat``.

    store ─(account-id chunks)─► age ─► features ─► score (PD) ─► + plan history
          ─► assign_treatments ─► persist decision, freeze / cut, notice ─► export

Each chunk of accounts (keyset paging in account-id order, as in the limit review) is aged on
``as_of``; the overdue ones are scored with the model (the review's reading and scoring
helpers), joined with their broken promises (和谐还款 plans that broke on or before ``as_of``,
from ``repayment_plans``; 0 when none) and their cures (from aging), and treated with
``cardpilot.overdue.treatment.assign_treatments``. One transaction per chunk inserts the
decisions (``ON CONFLICT (account_id, as_of) DO NOTHING``), applies the limit actions of the
decisions *this run inserted* (``freeze``: status ``frozen``; ``cut``: a lower limit; both with
a ``limit_history`` row, source ``overdue``) and queues each decision's notice through the
outbox. A re-run of the same date (or one after a kill) treats each account exactly once.

The policy and the accounts must be in the same currency (the engine does not convert; the UCI
data is NT$: use ``--policy src/cardpilot/policies/uci-twd``, as for the review).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, DateTime, Engine, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cardpilot.batch.scoring import Scorer, model_version_of
from cardpilot.notify.compose import default_composer
from cardpilot.overdue.aging import age_accounts
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.overdue.schema import OverduePolicy
from cardpilot.overdue.treatment import assign_treatments
from cardpilot.store.db import open_store
from cardpilot.store.frame_reads import query_frame
from cardpilot.store.overdue_models import OverdueTreatment
from cardpilot.store.portfolio_facts import other_currencies

DEFAULT_CHUNK_ROWS = 50_000
TREATED_STATUSES = ("active", "frozen")  # closed and charged-off accounts are not treated
MESSAGE_TYPE = "overdue_treatment"
LIMIT_STEP_MINOR = 100  # a cut limit is rounded down to a whole unit of the currency
BP = 10_000

ProgressCallback = Callable[[int, int], None]


class TreatError(ValueError):
    """The treatment cannot run as asked: says what is wrong and what to do."""


@dataclass
class TreatResult:
    run_key: str
    as_of: dt.date
    policy_version: str
    model_version: str | None
    treated: int = 0  # decisions inserted by this run
    skipped: int = 0  # overdue accounts already treated on this date by an earlier run
    notices: int = 0  # outbox messages queued by this run
    frozen: int = 0
    cut: int = 0
    seconds: float = 0.0
    # The whole date (this run and any earlier one)
    overdue_accounts: int = 0
    by_segment: dict[str, int] = field(default_factory=dict)
    by_treatment: dict[str, int] = field(default_factory=dict)
    by_limit_action: dict[str, int] = field(default_factory=dict)
    mean_pd_by_segment: dict[str, float | None] = field(default_factory=dict)
    out: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- reading

_ACCOUNTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "credit_limit_minor": pl.Int64(),
    "open_date": pl.Date(),
    "status": pl.String(),
    "currency": pl.String(),
    "birth_year": pl.Int32(),
    "education": pl.String(),
    "annual_income_minor": pl.Int64(),
}
_STATEMENTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "cycle_date": pl.Date(),
    "credit_limit_minor": pl.Int64(),
    "statement_balance_minor": pl.Int64(),
    "minimum_due_minor": pl.Int64(),
    "amount_paid_minor": pl.Int64(),
    "purchases_minor": pl.Int64(),
    "cash_advances_minor": pl.Int64(),
    "repayment_status": pl.Int16(),
    "days_past_due": pl.Int32(),
}


@dataclass(frozen=True)
class ChunkFrames:
    """The three frames of docs/CONTRACTS.md for one chunk (what ``behaviour_features`` reads)."""

    statements: pl.DataFrame
    accounts: pl.DataFrame
    customers: pl.DataFrame


@dataclass
class _Chunk:
    first: str
    last: str
    accounts: pl.DataFrame  # treatable accounts not yet treated on as_of
    statements: pl.DataFrame
    broken: pl.DataFrame  # account_id, broken_promises
    skipped: int
    seen: int


def _read_chunks(db: Engine, as_of: dt.date, chunk_rows: int) -> Iterator[_Chunk]:
    after = ""
    statuses = ", ".join(f"'{s}'" for s in TREATED_STATUSES)
    while True:
        with db.connect() as conn:
            accounts = query_frame(
                conn,
                "SELECT a.account_id, a.customer_id, a.credit_limit_minor, a.open_date, a.status,"
                " a.currency, c.birth_year, c.education, c.annual_income_minor"
                " FROM accounts a LEFT JOIN customers c ON c.customer_id = a.customer_id"
                " WHERE a.account_id > :after ORDER BY a.account_id LIMIT :n",
                {"after": after, "n": chunk_rows},
                _ACCOUNTS,
            )
            if accounts.height == 0:
                return
            bounds = {"lo": accounts["account_id"][0], "hi": accounts["account_id"][-1]}
            done = query_frame(
                conn,
                "SELECT account_id FROM overdue_treatments WHERE as_of = :as_of"
                " AND account_id BETWEEN :lo AND :hi",
                {"as_of": as_of, **bounds},
                {"account_id": pl.String()},
            )
            statements = query_frame(
                conn,
                "SELECT s.account_id, s.cycle_date, s.credit_limit_minor,"
                " s.statement_balance_minor, s.minimum_due_minor, s.amount_paid_minor,"
                " s.purchases_minor, s.cash_advances_minor, s.repayment_status, s.days_past_due"
                " FROM statements s JOIN accounts a ON a.account_id = s.account_id"
                f" WHERE s.account_id BETWEEN :lo AND :hi AND a.status IN ({statuses})"
                " AND s.cycle_date <= :as_of",
                {"as_of": as_of, **bounds},
                _STATEMENTS,
            )
            broken = query_frame(
                conn,
                "SELECT account_id, COUNT(*) FROM repayment_plans WHERE status = 'broken'"
                " AND status_on <= :as_of AND account_id BETWEEN :lo AND :hi"
                " GROUP BY account_id",
                {"as_of": as_of, **bounds},
                {"account_id": pl.String(), "broken_promises": pl.Int32()},
            )
        after = bounds["hi"]
        treatable = accounts.filter(pl.col("status").is_in(TREATED_STATUSES))
        pending = treatable.join(done, on="account_id", how="anti")
        yield _Chunk(
            first=bounds["lo"],
            last=bounds["hi"],
            accounts=pending,
            statements=statements.join(pending.select("account_id"), on="account_id", how="semi"),
            broken=broken,
            skipped=treatable.height - pending.height,
            seen=accounts.height,
        )


# --------------------------------------------------------------------------- deciding


def unpaid_minimum(statements: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """``account_id, unpaid_minimum_minor``: the minimum payment of each account's latest
    statement on or before ``as_of`` less what was paid on it, never below 0 (0 when the
    statement states no minimum, as in the UCI data). The late fee is assessed on it."""
    return (
        statements.lazy()
        .filter(pl.col("cycle_date") <= as_of)
        .group_by("account_id")
        .agg(pl.col("minimum_due_minor", "amount_paid_minor").sort_by("cycle_date").last())
        .select(
            "account_id",
            (pl.col("minimum_due_minor") - pl.col("amount_paid_minor").fill_null(0))
            .clip(lower_bound=0)
            .fill_null(0)
            .cast(pl.Int64)
            .alias("unpaid_minimum_minor"),
        )
        .collect()
    )


def treatment_input(
    snapshot: pl.DataFrame,
    scores: pl.DataFrame,
    broken: pl.DataFrame,
    unpaid: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The ``assign_treatments`` input: the aging snapshot of the overdue accounts with their
    PD (null when the model could not score), broken promises (0 when none) and the unpaid
    minimum payment (``unpaid_minimum``; 0 when none)."""
    keep = [c for c in ("account_id", "score", "pd", "model_version") if c in scores.columns]
    table = snapshot.filter(pl.col("days_past_due") > 0)
    if scores.height:
        table = table.join(scores.select(keep), on="account_id", how="left")
    for name, dtype in (
        ("score", pl.Int32()),
        ("pd", pl.Float64()),
        ("model_version", pl.String()),
    ):
        if name not in table.columns:
            table = table.with_columns(pl.lit(None, dtype).alias(name))
    table = table.join(broken, on="account_id", how="left")
    if unpaid is not None:
        table = table.join(unpaid, on="account_id", how="left")
    else:
        table = table.with_columns(pl.lit(0, pl.Int64).alias("unpaid_minimum_minor"))
    return table.with_columns(
        pl.col("broken_promises").fill_null(0).cast(pl.Int32),
        pl.col("unpaid_minimum_minor").fill_null(0).cast(pl.Int64),
    )


def treat_frames(
    frames: ChunkFrames,
    scorer: Scorer | None,
    policy: OverduePolicy,
    as_of: dt.date,
    broken: pl.DataFrame | None = None,
    pd_column: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Age, score and treat one set of frames (no store): the treatment table joined with the
    inputs that explain it (``score``, ``pd``, ``cures``, ``broken_promises``, balances).

    ``pd_column`` (``account_id, pd``) stands in for the model when given (benchmarks)."""
    from cardpilot.scoring.features import behaviour_features

    snapshot = age_accounts(frames.statements, as_of, policy)
    overdue_ids = snapshot.filter(pl.col("days_past_due") > 0).select("account_id")
    if pd_column is not None:
        scores = pd_column
    elif scorer is not None and overdue_ids.height:
        sub = ChunkFrames(
            statements=frames.statements.join(overdue_ids, on="account_id", how="semi"),
            accounts=frames.accounts.join(overdue_ids, on="account_id", how="semi"),
            customers=frames.customers,
        )
        features = behaviour_features(sub, as_of)
        scores = scorer.score(features) if features.height else pl.DataFrame()
    else:
        scores = pl.DataFrame()
    if broken is None:
        broken = pl.DataFrame(schema={"account_id": pl.String(), "broken_promises": pl.Int32()})
    unpaid = unpaid_minimum(frames.statements.join(overdue_ids, on="account_id", how="semi"), as_of)
    table = treatment_input(snapshot, scores, broken, unpaid)
    treated = assign_treatments(table, policy, as_of)
    return treated.join(
        table.select(
            "account_id",
            "score",
            "pd",
            "model_version",
            "cures",
            "broken_promises",
            "overdue_balance_minor",
        ),
        on="account_id",
        how="left",
    )


def with_limits(treated: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """Old (``accounts.old_limit_minor``) and new limit per decision: a cut removes
    ``limit_cut_share_bp`` of the limit, rounded down to a whole unit (never grants credit);
    freeze and none keep the limit."""
    old = pl.col("old_limit_minor")
    cut = old * (BP - pl.col("limit_cut_share_bp")) // BP // LIMIT_STEP_MINOR * LIMIT_STEP_MINOR
    return treated.join(
        accounts.select("account_id", "customer_id", "currency", "old_limit_minor"),
        on="account_id",
        how="left",
    ).with_columns(
        pl.when(pl.col("limit_action") == "cut")
        .then(cut)
        .otherwise(old)
        .cast(pl.Int64)
        .alias("new_limit_minor")
    )


# --------------------------------------------------------------------------- persisting


def _rows(decided: pl.DataFrame, run_key: str, model_version: str | None) -> list[dict[str, Any]]:
    rows = []
    for r in decided.iter_rows(named=True):
        rows.append(
            {
                "run_key": run_key,
                "account_id": r["account_id"],
                "as_of": r["as_of"],
                "bucket": r["bucket"],
                "days_past_due": r["days_past_due"],
                "cures": r["cures"],
                "broken_promises": r["broken_promises"],
                "overdue_balance_minor": r["overdue_balance_minor"],
                "score": r["score"],
                "pd": r["pd"],
                "risk_segment": r["risk_segment"],
                "risk_level": r["risk_level"],
                "treatment": r["treatment"],
                "penalty_rate_daily": str(r["penalty_rate_daily"]),
                "fee_waived": r["fee_waived"],
                "fee_waiver_share_bp": r["fee_waiver_share_bp"],
                "penalty_interest_minor": r["penalty_interest_minor"],
                "late_fee_minor": r["late_fee_minor"],
                "fee_waived_minor": r["fee_waived_minor"],
                "due_date_extension_days": r["due_date_extension_days"],
                "limit_action": r["limit_action"],
                "limit_cut_share_bp": r["limit_cut_share_bp"],
                "old_limit_minor": r["old_limit_minor"],
                "new_limit_minor": r["new_limit_minor"],
                "first_contact_dpd": r["first_contact_dpd"],
                "contacts_per_week": r["contacts_per_week"],
                "contact_tone": r["contact_tone"],
                "eligible_plans": json.dumps(r["eligible_plans"] or []),
                "harmony_eligible": r["harmony_eligible"],
                "reason_codes": json.dumps(r["reason_codes"], ensure_ascii=False),
                "reason_texts_zh": json.dumps(r["reason_texts_zh"], ensure_ascii=False),
                "reason_texts_en": json.dumps(r["reason_texts_en"], ensure_ascii=False),
                "policy_version": r["policy_version"],
                "model_version": r["model_version"] or model_version,
            }
        )
    return rows


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    stmt: Any
    table = OverdueTreatment
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing(
            index_elements=["account_id", "as_of"]
        )
    else:
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=["account_id", "as_of"])
    for start in range(0, len(rows), 5_000):
        conn.execute(stmt, rows[start : start + 5_000])


_HISTORY_SQL = text(
    "INSERT INTO limit_history (account_id, effective_at, old_limit_minor, new_limit_minor,"
    " source, decision_id, policy_version, model_version, note)"
    " SELECT account_id, :effective_at, old_limit_minor, new_limit_minor, 'overdue',"
    " 'overdue_treatment:' || CAST(id AS VARCHAR(40)), policy_version, model_version,"
    " limit_action FROM overdue_treatments"
    " WHERE run_key = :run AND account_id BETWEEN :lo AND :hi AND limit_action <> 'none'"
).bindparams(bindparam("effective_at", type_=DateTime(timezone=True)))

# Freeze: the card cannot be used while overdue (status frozen, limit kept for later);
# cut: the lower limit. Accounts already frozen stay frozen.
_ACCOUNTS_SQL = text(
    "UPDATE accounts SET status = 'frozen', credit_limit_minor = t.new_limit_minor"
    " FROM overdue_treatments t WHERE t.account_id = accounts.account_id AND t.run_key = :run"
    " AND t.account_id BETWEEN :lo AND :hi AND t.limit_action = 'freeze'"
)
_CUT_SQL = text(
    "UPDATE accounts SET credit_limit_minor = t.new_limit_minor"
    " FROM overdue_treatments t WHERE t.account_id = accounts.account_id AND t.run_key = :run"
    " AND t.account_id BETWEEN :lo AND :hi AND t.limit_action = 'cut'"
)


def _notices(conn: Connection, bounds: dict[str, Any], policy: OverduePolicy) -> list[Any]:
    """The notices of the decisions this run inserted in the chunk."""
    from cardpilot.notify.notice import LimitChangeNotice, NoticeReason

    labels = {s.code: s.labels for s in policy.file.segments}
    rows = conn.execute(
        text(
            "SELECT t.id, t.account_id, a.customer_id, a.currency, t.as_of, t.old_limit_minor,"
            " t.new_limit_minor, t.reason_codes, t.reason_texts_zh, t.reason_texts_en,"
            " t.policy_version, t.risk_segment, t.limit_action, t.fee_waiver_share_bp,"
            " t.due_date_extension_days, t.penalty_rate_daily, t.days_past_due, t.contact_tone"
            " FROM overdue_treatments t JOIN accounts a ON a.account_id = t.account_id"
            " WHERE t.run_key = :run AND t.account_id BETWEEN :lo AND :hi ORDER BY t.id"
        ),
        bounds,
    ).all()
    out = []
    for r in rows:
        as_of = r[4] if isinstance(r[4], dt.date) else dt.date.fromisoformat(str(r[4])[:10])
        codes, zh, en = (json.loads(r[i]) for i in (7, 8, 9))
        label = labels.get(r[11])
        out.append(
            LimitChangeNotice(
                decision_id=f"overdue_treatment:{r[0]}",
                account_id=r[1],
                customer_id=r[2],
                currency=r[3] or policy.file.currency,
                effective_date=as_of,
                old_limit_minor=int(r[5]),
                new_limit_minor=int(r[6]),
                reasons=tuple(NoticeReason(c, z, e) for c, z, e in zip(codes, zh, en, strict=True)),
                policy_version=r[10],
                message_type=MESSAGE_TYPE,
                extra={
                    "risk_segment": r[11],
                    "segment_label_zh": label.zh_cn if label else r[11],
                    "segment_label_en": label.en if label else r[11],
                    "limit_action": r[12],
                    "fee_waiver_pct": f"{int(r[13]) / 100:g}",
                    "extension_days": int(r[14]),
                    "penalty_rate_pct": f"{Decimal(r[15]) * 100:.4f}".rstrip("0").rstrip("."),
                    "days_past_due": int(r[16]),
                    "tone": r[17],
                },
            )
        )
    return out


def _persist_chunk(
    db: Engine,
    decided: pl.DataFrame,
    chunk: _Chunk,
    *,
    run_key: str,
    as_of: dt.date,
    policy: OverduePolicy,
    model_version: str | None,
    composer: Any,
) -> tuple[int, int, dict[str, int]]:
    """Decisions, limit actions, limit history and notices of one chunk: one transaction.
    Returns (decisions inserted, notices queued, inserted per limit action)."""
    from cardpilot.notify.outbox import enqueue_notices

    bounds: dict[str, Any] = {"run": run_key, "lo": chunk.first, "hi": chunk.last}
    effective = dt.datetime.combine(as_of, dt.time(), tzinfo=dt.UTC)
    with db.begin() as conn:
        _insert(conn, _rows(decided, run_key, model_version))
        actions: dict[str, int] = {
            str(k): int(n)
            for k, n in conn.execute(
                text(
                    "SELECT limit_action, COUNT(*) FROM overdue_treatments WHERE run_key = :run"
                    " AND account_id BETWEEN :lo AND :hi GROUP BY limit_action"
                ),
                bounds,
            ).all()
        }
        conn.execute(_HISTORY_SQL, {**bounds, "effective_at": effective})
        conn.execute(_ACCOUNTS_SQL, bounds)
        conn.execute(_CUT_SQL, bounds)
        notices = _notices(conn, bounds, policy)
        queued = 0
        if notices:
            session = Session(bind=conn)
            try:
                queued = len(enqueue_notices(session, notices, composer=composer))
                session.flush()
            finally:
                session.close()
    return sum(actions.values()), queued, actions


# --------------------------------------------------------------------------- the run


def _check_currency(db: Engine, policy: OverduePolicy) -> None:
    other = other_currencies(db, policy.file.currency)
    if other:
        raise TreatError(
            f"the store holds accounts in {', '.join(other)} but the overdue policy's amounts "
            f"are in {policy.file.currency}; the engine does not convert currencies. Treat "
            "with a policy in the accounts' currency, e.g. --policy "
            "src/cardpilot/policies/uci-twd for the UCI data (NT$), see docs/overdue.md"
        )


def treat_overdue(
    database_url: str,
    scorer: Scorer | None,
    *,
    as_of: dt.date,
    policy: OverduePolicy | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    out: Path | str | None = None,
    progress: ProgressCallback | None = None,
    model_version: str | None = None,
) -> TreatResult:
    """Treat every account of the store overdue on ``as_of`` and not yet treated that day.

    ``scorer``: a model with ``.score(features)`` (a registry champion or ``load_model_dir``);
    ``None`` leaves the PD unknown (no rule passes on it: such accounts fall to the rules on
    days past due and promises, or the catch-all). ``out``: export the date's decisions.
    """
    started = time.perf_counter()
    policy = policy or load_overdue_policy()
    db = open_store(database_url)
    try:
        _check_currency(db, policy)
        model_version = model_version or model_version_of(scorer)
        result = TreatResult(
            run_key=str(uuid.uuid4()),
            as_of=as_of,
            policy_version=policy.version,
            model_version=model_version,
        )
        with db.connect() as conn:
            total = int(conn.execute(text("SELECT COUNT(*) FROM accounts")).scalar_one())
        composer = default_composer()
        done = 0
        if progress:
            progress(0, total)
        for chunk in _read_chunks(db, as_of, chunk_rows):
            done += chunk.seen
            result.skipped += chunk.skipped
            if chunk.accounts.height and chunk.statements.height:
                frames = ChunkFrames(
                    statements=chunk.statements,
                    accounts=chunk.accounts.select(
                        "account_id",
                        "customer_id",
                        "credit_limit_minor",
                        "open_date",
                        "status",
                        "currency",
                    ),
                    customers=chunk.accounts.select(
                        "customer_id", "birth_year", "education", "annual_income_minor"
                    ).unique("customer_id"),
                )
                treated = treat_frames(frames, scorer, policy, as_of, chunk.broken)
                if treated.height:
                    decided = with_limits(
                        treated,
                        chunk.accounts.rename({"credit_limit_minor": "old_limit_minor"}),
                    )
                    inserted, queued, actions = _persist_chunk(
                        db,
                        decided,
                        chunk,
                        run_key=result.run_key,
                        as_of=as_of,
                        policy=policy,
                        model_version=model_version,
                        composer=composer,
                    )
                    result.treated += inserted
                    result.skipped += treated.height - inserted
                    result.notices += queued
                    result.frozen += actions.get("freeze", 0)
                    result.cut += actions.get("cut", 0)
            if progress:
                progress(done, total)
        _summarise(db, result)
        if out is not None:
            export_treatments(db, as_of, Path(out))
            result.out = str(out)
    finally:
        db.dispose()
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _summarise(db: Engine, result: TreatResult) -> None:
    frame = read_treatments(db, result.as_of)
    result.overdue_accounts = frame.height
    for column, target in (
        ("risk_segment", result.by_segment),
        ("treatment", result.by_treatment),
        ("limit_action", result.by_limit_action),
    ):
        for key, n in frame.group_by(column).len().sort(column).iter_rows():
            target[str(key)] = int(n)
    for key, mean in (
        frame.group_by("risk_segment").agg(pl.col("pd").mean()).sort("risk_segment").iter_rows()
    ):
        result.mean_pd_by_segment[str(key)] = None if mean is None else round(float(mean), 6)


# --------------------------------------------------------------------------- reading back

_READ_SCHEMA: dict[str, pl.DataType] = {
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
    """The stored treatments (of one date, or all), reason lists decoded."""
    renamed = {
        "decision_id": "id",
        "fee_waived": "CAST(fee_waived AS INTEGER)",
        "harmony_eligible": "CAST(harmony_eligible AS INTEGER)",
    }
    cols = ", ".join(renamed.get(c, c) for c in _READ_SCHEMA)
    where = "WHERE as_of = :as_of" if as_of else ""
    with db.connect() as conn:
        frame = query_frame(
            conn,
            f"SELECT {cols} FROM overdue_treatments {where} ORDER BY account_id, as_of",
            {"as_of": as_of} if as_of else {},
            _READ_SCHEMA,
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


EXPORT_COLUMNS = (
    "account_id",
    "risk_segment",
    "bucket",
    "days_past_due",
    "treatment",
    "penalty_rate",
    "fee_waived",
    "fee_waiver_share",
    "penalty_interest",
    "late_fee",
    "fees_charged",
    "fee_waived_amount",
    "due_date_extension_days",
    "limit_action",
    "old_limit",
    "new_limit",
    "reason_codes",
    "reason_texts",
    "reason_texts_en",
    "pd",
    "score",
    "cures",
    "broken_promises",
    "overdue_balance",
    "first_contact_dpd",
    "contacts_per_week",
    "as_of",
    "policy_version",
    "model_version",
    "decision_id",
)


def treatments_export_frame(treatments: pl.DataFrame) -> pl.DataFrame:
    """One row per decision: money in major units as exact decimals, the daily penalty rate
    as exact decimal text (``0.0006`` = 0.06 % a day), reason texts zh-CN in ``reason_texts``."""
    major = pl.Decimal(18, 2)

    def money(name: str) -> pl.Expr:
        return (pl.col(name).cast(major) / 100).cast(major)

    return treatments.with_columns(
        pl.col("penalty_rate_daily")
        .str.replace(r"0+$", "")
        .str.replace(r"\.$", "")
        .alias("penalty_rate"),
        (pl.col("fee_waiver_share_bp").cast(pl.Float64) / 100).alias("fee_waiver_share"),
        money("old_limit_minor").alias("old_limit"),
        money("new_limit_minor").alias("new_limit"),
        money("overdue_balance_minor").alias("overdue_balance"),
        money("penalty_interest_minor").alias("penalty_interest"),
        money("late_fee_minor").alias("late_fee"),
        (money("penalty_interest_minor") + money("late_fee_minor"))
        .cast(major)
        .alias("fees_charged"),
        money("fee_waived_minor").alias("fee_waived_amount"),
        pl.col("reason_texts_zh").alias("reason_texts"),
    ).select(EXPORT_COLUMNS)


def export_treatments(db: Engine, as_of: dt.date, path: Path) -> int:
    """Write a date's treatments to ``path`` (``.csv`` lists ``;``-joined, or ``.parquet``)."""
    frame = treatments_export_frame(read_treatments(db, as_of))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        frame.write_parquet(path)
    elif path.suffix.lower() == ".csv":
        frame.with_columns(
            pl.col(c).list.join(";") for c in ("reason_codes", "reason_texts", "reason_texts_en")
        ).write_csv(path)
    else:
        raise TreatError(f"--out {path}: use a .csv or .parquet file name")
    return frame.height
