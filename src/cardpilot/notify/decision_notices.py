"""Notices from stored decision rows, and their outbox rows rendered in bulk.

One function turns rows of decisions into notices, whatever decided them: a limit review's
decisions (``limit_decision:<id>``) or an overdue treatment's (``overdue_treatment:<id>``, with
its own message type and the extra facts its templates show). The rows carry ``id``,
``account_id``, ``customer_id``, ``currency``, ``as_of``, ``old_limit_minor``,
``new_limit_minor``, ``policy_version`` and the reason lists ``reason_codes``,
``reason_texts_zh`` and ``reason_texts_en`` (lists, or JSON array text as stored).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cardpilot.notify.basis import GradeRules, grade_rules, limit_basis
from cardpilot.notify.compose import Composer, default_composer
from cardpilot.notify.notice import LimitChangeNotice, NoticeReason
from cardpilot.notify.outbox import render_rows, unreachable_channels
from cardpilot.notify.policy import NotifyPolicy, default_policy
from cardpilot.notify.prefs import load_prefs
from cardpilot.notify.reasons import figure_features, has_statement, statement
from cardpilot.policy.schema import Policy
from cardpilot.scoring.directions import feature_of_code
from cardpilot.store.outbox_rows import outbox_table

# A row's extra facts for its message type's templates (``LimitChangeNotice.extra``).
ExtraFacts = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def _reason_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [str(v) for v in json.loads(value)]
    return [str(v) for v in value]


def notices_from_rows(
    rows: pl.DataFrame,
    *,
    decision_kind: str = "limit_decision",
    message_type: str = "limit_change",
    default_currency: str = "CNY",
    extra: ExtraFacts | None = None,
    context: LimitNoticeContext | None = None,
) -> list[LimitChangeNotice]:
    """One notice per decision row (see the module), in row order; ``decision_kind`` names
    the decision in the notice's reference (``<kind>:<id>``), which keys its messages.

    ``context`` (limit decisions): the basis each notice names (rows with ``grade``), the
    decrease's notice period, and the accounts' figures that the reasons' statements show
    (``figures``: ``account_id`` and feature columns)."""
    if context is not None and context.figures is not None and rows.height:
        rows = rows.join(context.figures, on="account_id", how="left", maintain_order="left")
    notices = []
    for row in rows.iter_rows(named=True):
        currency = row["currency"] or default_currency
        effective = row["as_of"]
        if not isinstance(effective, dt.date):
            effective = dt.date.fromisoformat(str(effective)[:10])
        basis = None
        if context is not None:
            if int(row["new_limit_minor"]) < int(row["old_limit_minor"]):
                effective += dt.timedelta(days=context.decrease_notice_days)
            basis = limit_basis(row, context.rules, context.grade_labels)
        notices.append(
            LimitChangeNotice(
                decision_id=f"{decision_kind}:{row['id']}",
                account_id=row["account_id"],
                customer_id=row["customer_id"],
                currency=currency,
                effective_date=effective,
                old_limit_minor=int(row["old_limit_minor"]),
                new_limit_minor=int(row["new_limit_minor"]),
                reasons=_reasons_of(row, currency),
                policy_version=row["policy_version"],
                message_type=message_type,
                extra=dict(extra(row)) if extra is not None else {},
                basis=basis,
            )
        )
    return notices


def _reasons_of(row: Mapping[str, Any], currency: str) -> tuple[NoticeReason, ...]:
    """The row's reasons; a score reason with a statement and the account's figure at hand
    is told with its figure."""
    codes, zh, en = (
        _reason_list(row[c]) for c in ("reason_codes", "reason_texts_zh", "reason_texts_en")
    )
    out = []
    for code, text_zh, text_en in zip(codes, zh, en, strict=True):
        feature = feature_of_code(code) if has_statement(code) else None
        value = row.get(feature) if feature else None
        if value is not None:
            text_zh = statement(code, "zh-CN", value, currency=currency)
            text_en = statement(code, "en", value, currency=currency)
        out.append(NoticeReason(code, text_zh, text_en))
    return tuple(out)


@dataclass(frozen=True)
class LimitNoticeContext:
    """What a limit notice tells beside its decision row: the limit policy's grade rules
    (None: names only, from ``grade_labels``), the decrease's notice period in days, the
    reasons after which a kept limit gets the tips message, the accounts' figures, and the
    personal advice a tips message carries (account id → locale → lines, from
    ``cardpilot.customer.advice``)."""

    rules: GradeRules | None = None
    grade_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    decrease_notice_days: int = 0
    tips_after_keep: tuple[str, ...] = ()
    figures: pl.DataFrame | None = None
    advice: Mapping[str, Mapping[str, list[str]]] = field(default_factory=dict)


def limit_notice_context(
    policy: Policy | None = None,
    figures: pl.DataFrame | None = None,
    notify_policy: NotifyPolicy | None = None,
    advice: Mapping[str, Mapping[str, list[str]]] | None = None,
) -> LimitNoticeContext:
    """The context of limit notices under ``policy`` (the limit policy that decided) and the
    notify policy (default: the shipped one)."""
    settings = (notify_policy or default_policy()).limit_notices
    return LimitNoticeContext(
        rules=grade_rules(policy) if policy is not None else None,
        grade_labels=settings.grade_labels,
        decrease_notice_days=settings.decrease_notice_days,
        tips_after_keep=settings.tips_after_keep,
        figures=figures,
        advice=advice or {},
    )


def tips_accounts(rows: pl.DataFrame, tips_after_keep: tuple[str, ...]) -> pl.DataFrame:
    """The decision rows that get the tips message: a limit kept at a due review whose first
    reason is one of ``tips_after_keep``."""
    if not tips_after_keep or "due_for_review" not in rows.columns or not rows.height:
        return rows.clear()
    kept = rows.filter(
        (pl.col("new_limit_minor") == pl.col("old_limit_minor"))
        & (pl.col("due_for_review").cast(pl.Int64) == 1)
    )
    first = kept["reason_codes"].map_elements(
        lambda v: (_reason_list(v) or [""])[0], return_dtype=pl.String
    )
    return kept.filter(first.is_in(list(tips_after_keep)))


def decrease_effective_on(as_of: dt.date, notify_policy: NotifyPolicy | None = None) -> dt.date:
    """The day a decrease decided on ``as_of`` takes effect: after the notice period its notice
    gives (the one value the notice and the pending change both read)."""
    days = (notify_policy or default_policy()).limit_notices.decrease_notice_days
    return as_of + dt.timedelta(days=days)


def figure_columns(table: pl.DataFrame) -> pl.DataFrame:
    """``account_id`` and the feature columns of ``table`` that a reason statement shows."""
    wanted = figure_features()
    return table.select("account_id", *[c for c in table.columns if c in wanted])


def limit_notices(rows: pl.DataFrame, context: LimitNoticeContext) -> list[LimitChangeNotice]:
    """The notices a review's decision rows call for: a ``limit_change`` notice for each
    change, and a ``limit_tips`` message for each limit kept at a due review whose first
    reason is one of ``context.tips_after_keep``; other kept limits are not told."""
    if not rows.height:
        return []
    changed = rows.filter(pl.col("new_limit_minor") != pl.col("old_limit_minor"))
    notices = notices_from_rows(changed, context=context)
    kept = tips_accounts(rows, context.tips_after_keep)
    if kept.height:
        advice = context.advice

        def advised(row: Mapping[str, Any]) -> Mapping[str, Any]:
            lines = advice.get(str(row["account_id"]))
            return {"advice": lines} if lines else {}

        notices += notices_from_rows(
            kept, message_type="limit_tips", context=context, extra=advised
        )
    return notices


def outbox_rows(
    db: Engine,
    notices: list[LimitChangeNotice],
    composer: Composer | None = None,
    now: dt.datetime | None = None,
) -> pa.Table | None:
    """The outbox rows of ``notices``, rendered as ``cardpilot.notify.outbox.enqueue_notices``
    renders them (contact preferences, reachable channels only), as one table for a bulk
    insert; None when there is nothing to queue. Preferences and addresses are read through
    ``db`` (a batch job writes no customers)."""
    if not notices:
        return None
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    customers = {n.customer_id for n in notices}
    with Session(bind=db) as session:
        prefs = dict(load_prefs(session, customers))
        unreachable = unreachable_channels(session, customers)
    rows = render_rows(notices, prefs, composer or default_composer(), now)
    rows = [r for r in rows if r["channel"] not in unreachable.get(r["customer_id"], ())]
    return outbox_table(rows) if rows else None


def limit_change_outbox(
    db: Engine, changed: pl.DataFrame, context: LimitNoticeContext | None = None
) -> pa.Table | None:
    """The outbox rows of a review chunk's decisions (rows as above, with ``grade`` and
    ``due_for_review``): its limit changes and the tips after kept limits (``limit_notices``)."""
    return outbox_rows(db, limit_notices(changed, context or limit_notice_context()))
