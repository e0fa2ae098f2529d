"""``cardpilot apply``: decide credit applications with the application model.

An applications file (the generic layout's, ``cardpilot.ingest.applications``) is read and
checked, every application is scored by the application model (scorecard or GBM, the registry's
``application-scorecard`` champion by default), and decided by ``decide_applications``: a grade,
an initial limit inside the grade's range and under the affordability cap, or a decline, with at
most four reasons in zh-CN and en. In one transaction the decisions are stored, an account is
opened for every offer (its customer, the account, the opening row of its limit history and a
``limit_change`` event in its ledger) and one audit record of the run is appended. Deciding a
file again adds nothing: an application already decided keeps its first decision.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from sqlalchemy import Engine

from cardpilot.audit.chain import AuditEntry, digest_text
from cardpilot.batch.scoring import (
    Scorer,
    model_version_of,
    reason_codes_of,
    score_reason_texts,
    scored_with_directions,
)
from cardpilot.config import get_settings
from cardpilot.domain.decisions import InitialAction
from cardpilot.ingest.applications import ApplicationsRead
from cardpilot.ledger.postings import Kind, Posting, Source
from cardpilot.policy.applications import decide_applications
from cardpilot.policy.customer import CustomerPolicy
from cardpilot.policy.schema import Policy
from cardpilot.scoring.application import application_features
from cardpilot.scoring.training import reference_split
from cardpilot.store.applications import (
    accounts_there,
    decided_already,
    open_accounts,
    write_application_decisions,
)
from cardpilot.store.audit import append_audit, audited_transaction, default_actor
from cardpilot.store.ledger import insert_postings

MAX_ID = 64


class ApplyError(ValueError):
    """Applications that cannot be decided: says which row, field or account, and why."""


@dataclass(frozen=True)
class ApplyResult:
    """What a run decided: every application's decision, and what the store gained."""

    decisions: pl.DataFrame  # APPLICATION_DECISION_SCHEMA + customer_id, account_id
    added: int  # decisions stored now (the others were decided before)
    opened: int  # accounts opened now
    grades: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        actions = self.decisions.get_column("action")
        offers = self.decisions.filter(pl.col("action") == InitialAction.OFFER.value)
        first = self.decisions.row(0, named=True) if self.decisions.height else {}
        return {
            "applications": self.decisions.height,
            "decided": int(actions.is_not_null().sum()),
            "offered": offers.height,
            "declined": int((actions == InitialAction.DECLINE.value).sum()),
            "referred": int((actions == InitialAction.REFER.value).sum()),
            "approval_rate": offers.height / self.decisions.height if self.decisions.height else 0,
            "stored": self.added,
            "accounts_opened": self.opened,
            "policy_version": first.get("policy_version"),
            "customer_policy_version": first.get("customer_policy_version"),
            "model_version": first.get("model_version"),
            "grades": self.grades,
        }


def held_out_rows(read: ApplicationsRead) -> ApplicationsRead:
    """Only the reference split's test rows (the rows ``model train --family application``
    held out): the split of the labelled applications, in file order, as training makes it."""
    labelled = read.applications.join(
        read.labels.select("application_id", "value"), on="application_id", maintain_order="left"
    )
    if labelled.height == 0:
        raise ApplyError("--split test needs the outcome column (no application has one)")
    _, test = reference_split(labelled.get_column("value").cast(pl.Int8).to_numpy())
    ids = labelled.get_column("application_id").gather(np.sort(test))
    keep = pl.col("application_id").is_in(ids.implode())
    return ApplicationsRead(
        read.applications.filter(keep), read.labels.filter(keep), read.rejects, read.rows_read
    )


def score_applications(applications: pl.DataFrame, model: Scorer) -> pl.DataFrame:
    """Application features with the model's ``score``, ``pd``, adverse ``reason_codes`` and
    ``model_version``, in input order."""
    features = application_features(applications)
    keyed = features.rename({"application_id": "account_id"})
    scores = scored_with_directions(model, keyed).select(
        "account_id",
        pl.col("score").cast(pl.Int64),
        "pd",
        "reason_codes",
        pl.lit(model_version_of(model), dtype=pl.String).alias("model_version"),
    )
    scored = keyed.join(scores, on="account_id", how="left", maintain_order="left")
    return scored.rename({"account_id": "application_id"})


def _identities(read: ApplicationsRead, customer: CustomerPolicy) -> pl.DataFrame:
    """Each application's customer and account ids (the policy's prefix + the application id
    where the file names no customer) and its annual income."""
    assert customer.applications is not None
    prefix = customer.applications.account_prefix
    apps = read.applications
    given = (
        pl.col("customer_id") if "customer_id" in apps.columns else pl.lit(None, dtype=pl.String)
    )
    frame = apps.select(
        "application_id",
        pl.coalesce(given, pl.lit(prefix) + pl.col("application_id")).alias("customer_id"),
        (pl.lit(prefix) + pl.col("application_id")).alias("account_id"),
        (pl.col("monthly_income_minor") * 12).alias("annual_income_minor"),
    )
    too_long = frame.filter(pl.col("account_id").str.len_chars() > MAX_ID)
    if too_long.height:
        raise ApplyError(
            f"application_id {too_long.item(0, 'application_id')!r}: with the prefix"
            f" {prefix!r} the account id is longer than {MAX_ID} characters"
        )
    return frame


def apply_applications(
    db: Engine,
    read: ApplicationsRead,
    limits: Policy,
    customer: CustomerPolicy,
    model: Scorer,
    *,
    source: str,
    as_of: dt.date | None = None,
    actor: str | None = None,
) -> ApplyResult:
    """Decide, store, open accounts and audit, all in one transaction (see the module)."""
    zone = ZoneInfo(get_settings().timezone)
    now = dt.datetime.now(zone)
    as_of = as_of or now.date()
    scored = score_applications(read.applications, model)
    texts = score_reason_texts(reason_codes_of(scored), {})
    decided = decide_applications(scored, limits, customer, as_of, reason_texts=texts)
    ids = _identities(read, customer)
    decisions = decided.join(ids, on="application_id", how="left", maintain_order="left")
    decisions = decisions.with_columns(
        pl.when(pl.col("action") == InitialAction.OFFER.value)
        .then(pl.col("account_id"))
        .alias("account_id"),
    )
    with audited_transaction(db) as conn:
        before = decided_already(conn, decisions.get_column("application_id").to_list())
        new = decisions.filter(~pl.col("application_id").is_in(list(before)))
        opened = new.filter(pl.col("action") == InitialAction.OFFER.value)
        clash = accounts_there(conn, opened.get_column("account_id").to_list())
        if clash:
            raise ApplyError(
                f"account {sorted(clash)[0]!r} is already in the store: an application would"
                " open it again (change applications.account_prefix in customer.yaml)"
            )
        stored = new.with_columns(
            pl.lit(now.astimezone(dt.UTC)).alias("decided_at"),
            pl.lit(limits.limits.currency).alias("currency"),
            pl.lit(source).alias("source"),
        )
        added = write_application_decisions(conn, stored)
        open_accounts(
            conn, opened.with_columns(pl.lit(limits.limits.currency).alias("currency")), now
        )
        insert_postings(conn, [_opening_event(row, now) for row in opened.iter_rows(named=True)])
        entry = _audit_entry(actor or default_actor(), decisions, added, opened.height, source)
        append_audit(conn, entry, now.astimezone(dt.UTC))
    return ApplyResult(decisions, added, opened.height, grade_table(decisions, read, limits))


def _opening_event(row: dict[str, Any], at: dt.datetime) -> Posting:
    detail = {
        "old_limit_minor": None,
        "new_limit_minor": row["initial_limit_minor"],
        "application_id": row["application_id"],
        "grade": row["grade"],
        "policy_version": row["policy_version"],
        "model_version": row["model_version"],
    }
    return Posting(
        account_id=row["account_id"],
        kind=Kind.LIMIT_CHANGE,
        effective_at=at,
        source=Source.DECISION,
        idempotency_key=f"apply:{row['application_id']}:open",
        detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
    )


def _audit_entry(
    actor: str, decisions: pl.DataFrame, added: int, opened: int, source: str
) -> AuditEntry:
    digested = decisions.select(
        "application_id",
        "action",
        "grade",
        "score",
        "initial_limit_minor",
        pl.col("reason_codes").list.join(";"),
    ).write_csv(include_header=False)
    digest = digest_text(digested)
    first = decisions.row(0, named=True) if decisions.height else {}
    payload = {
        "source": source,
        "applications": decisions.height,
        "stored": added,
        "accounts_opened": opened,
        "decisions_digest": digest,
        "policy_version": first.get("policy_version"),
        "customer_policy_version": first.get("customer_policy_version"),
        "model_version": first.get("model_version"),
    }
    return AuditEntry(actor, "apply.run", f"applications:{digest[:16]}", payload, after=payload)


def grade_table(
    decisions: pl.DataFrame, read: ApplicationsRead, limits: Policy
) -> list[dict[str, Any]]:
    """Per grade, best first: applicants, offers, the approval rate, the limits offered, and
    where outcomes are known the bad rate of all the grade's applicants and of those offered."""
    outcomes = read.labels.select("application_id", pl.col("value").alias("bad"))
    joined = decisions.join(outcomes, on="application_id", how="left")
    offer = pl.col("action") == InitialAction.OFFER.value
    rows = []
    for grade in limits.limits.grades:
        part = joined.filter(pl.col("grade") == grade.code)
        offered = part.filter(offer)
        known = part.filter(pl.col("bad").is_not_null())
        known_offered = offered.filter(pl.col("bad").is_not_null())
        rows.append(
            {
                "grade": grade.code,
                "applicants": part.height,
                "offered": offered.height,
                "approval_rate": offered.height / part.height if part.height else None,
                "bad_rate": known.get_column("bad").mean() if known.height else None,
                "bad_rate_offered": (
                    known_offered.get_column("bad").mean() if known_offered.height else None
                ),
                "limit_min_minor": offered.get_column("initial_limit_minor").min(),
                "limit_max_minor": offered.get_column("initial_limit_minor").max(),
                "range_min_minor": grade.initial_limit.min_minor,
                "range_max_minor": grade.initial_limit.max_minor,
            }
        )
    return rows
