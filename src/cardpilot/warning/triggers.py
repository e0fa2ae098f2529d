"""Which early-warning rules fire, for one account or a chunk of them. Pure: frames in, frames
out, no I/O.

One implementation for the batch (``cardpilot warn run``, a chunk frame at a time) and the
event consumer (one account's state after an event): ``evaluate_account`` is ``decide`` on a
one-row frame.

    states ──► fired_rules (every rule whose condition holds, current accounts only)
           ──► apply_limits (cool-downs, one per rule and cycle, the frequency cap)

``states``: one row per account, ``STATE_SCHEMA`` (a column left out is unknown, so a
condition reading it does not hold). ``history``: the interventions stored before, one row per
(account, rule, cycle), ``HISTORY_SCHEMA``, covering at least the longest cool-down and the
cap's window before ``as_of``.

* **Current accounts only.** An account with days past due > 0 is the overdue treatment's:
  no rule fires for it, whatever the policy says (a warning "before you go overdue" would be
  false). An unknown delinquency counts as current, as in training.
* **Once per rule and cycle.** An intervention's reference is (rule, the latest statement's
  cycle date, account); the store keeps one per reference, so a re-run, or the consumer seeing
  the account again in the same cycle, adds nothing. A candidate whose reference is already
  in the history is kept as it is (it is the same intervention).
* **Cool-down.** A rule that fired for the account on another cycle within ``cooldown_days``
  before ``as_of`` does not fire again.
* **Frequency cap.** At most ``max_interventions`` contacts (interventions that send a
  message) per account in ``window_days`` up to ``as_of``: those already stored count first,
  then the candidates by priority (lowest number first, ties by rule code). A hold on increases
  is not a contact and is not capped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from cardpilot.policy.conditions import compile_condition
from cardpilot.warning.policy import WarningPolicy

DECISION_REF_CHARS = 64  # notify_outbox.decision_ref
CURRENT_DPD_MAX = 0  # days past due of an account the early warning speaks to
MODEL_REASONS = 3  # the model's own reasons kept beside the rule's

STATE_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "currency": pl.String(),
    "cycle_date": pl.Date(),  # the latest statement's (null: none yet; as_of stands for it)
    "due_date": pl.Date(),
    "days_past_due": pl.Int32(),
    "score": pl.Float64(),
    "score_change": pl.Float64(),
    "statement_balance_minor": pl.Int64(),
    "minimum_due_minor": pl.Int64(),
    "unpaid_minimum_minor": pl.Int64(),
    "utilisation": pl.Float64(),
    "spend_to_6m_average": pl.Float64(),
    "days_since_limit_increase": pl.Int32(),
    "cash_advance_days_after_increase": pl.Int32(),
    "days_since_cash_advance": pl.Int32(),
    "months_on_book": pl.Int32(),
    "model_version": pl.String(),
    "reason_codes": pl.List(pl.String()),  # the model's reasons, most important first
}

FIRED_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "currency": pl.String(),
    "as_of": pl.Date(),
    "cycle_date": pl.Date(),
    "rule": pl.String(),
    "reason": pl.String(),
    "intervention": pl.String(),
    "kind": pl.String(),
    "sends": pl.Boolean(),
    "priority": pl.Int32(),
    "decision_ref": pl.String(),
    "score": pl.Float64(),
    "score_change": pl.Float64(),
    "model_version": pl.String(),
    "reason_codes": pl.List(pl.String()),  # the rule's reason, then the model's
    "policy_version": pl.String(),
}

HISTORY_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "rule": pl.String(),
    "cycle_date": pl.Date(),
    "fired_on": pl.Date(),
    "sends": pl.Boolean(),
}


def conform(states: pl.DataFrame) -> pl.DataFrame:
    """``states`` with every ``STATE_SCHEMA`` column, typed; a missing column is all null."""
    return states.select(_conformed(states.columns))


def _conformed(names: Sequence[str]) -> list[pl.Expr]:
    """Every ``STATE_SCHEMA`` column, typed, of states with the columns ``names``."""
    if "account_id" not in names:
        raise ValueError("trigger states need an account_id column")
    return [
        (pl.col(name) if name in names else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in STATE_SCHEMA.items()
    ]


def trigger_table(states: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The conformed states of the current accounts with ``days_to_due`` and the cycle key."""
    return (
        conform(states)
        .filter(pl.col("days_past_due").fill_null(0) <= CURRENT_DPD_MAX)
        .with_columns(
            _days_to(pl.col("due_date"), as_of).alias("days_to_due"),
            pl.coalesce(pl.col("cycle_date"), pl.lit(as_of)).alias("cycle_date"),
        )
    )


def _days_to(day: pl.Expr, as_of: dt.date | pl.Expr) -> pl.Expr:
    at = as_of if isinstance(as_of, pl.Expr) else pl.lit(as_of)
    return (day - at).dt.total_days().cast(pl.Int32)


def holding_rules(states: pl.DataFrame, policy: WarningPolicy) -> pl.DataFrame:
    """Per row of ``states`` (``STATE_SCHEMA`` columns and an ``as_of`` column: each row's own
    day), the codes of the rules whose condition holds that day (``rules``, empty for an
    account past due) and the cycle an intervention would be for (``cycle_key``).

    What ``fired_rules`` selects on, for many days at once: the event consumer uses it to pass
    ``decide`` only the rows where some rule holds (a row where none does fires nothing)."""
    return holding_rules_of(states.lazy(), policy).collect()


def holding_rules_of(
    states: pl.LazyFrame,
    policy: WarningPolicy,
    keep: tuple[str, ...] = (),
    names: tuple[str, ...] | None = None,
) -> pl.LazyFrame:
    """``holding_rules`` as a query on ``states``, for a caller that goes on from it, with the
    columns ``keep`` of ``states`` first; ``names``: the columns of ``states``, when the
    caller knows them."""
    if names is None:
        names = tuple(states.collect_schema().names())
    first, second, third = _holding_exprs(policy, names, keep)
    return states.select(first).with_columns(second).select(third)


_HOLDING: dict[tuple[str, tuple[str, ...], tuple[str, ...]], tuple[list[pl.Expr], ...]] = {}


def _holding_exprs(
    policy: WarningPolicy, names: tuple[str, ...], keep: tuple[str, ...]
) -> tuple[list[pl.Expr], ...]:
    """The expressions of ``holding_rules_of``, built once per policy and columns: building
    them costs more than running them on a batch's rows."""
    key = (policy.version, names, keep)
    exprs = _HOLDING.get(key)
    if exprs is None:
        at = pl.col("_as_of")
        first = [
            *_conformed(names),
            pl.col("as_of").alias("_as_of"),
            *(pl.col(c).alias(f"_keep_{c}") for c in keep),
        ]
        second = [
            _days_to(pl.col("due_date"), at).alias("days_to_due"),
            pl.coalesce(pl.col("cycle_date"), at).alias("cycle_date"),
        ]
        current = pl.col("days_past_due").fill_null(0) <= CURRENT_DPD_MAX
        holds = [
            pl.when(current & compile_condition(rule.when)).then(pl.lit(rule.code))
            for rule in policy.file.rules
        ]
        third = [
            *(pl.col(f"_keep_{c}").alias(c) for c in keep),
            pl.concat_list(holds).list.drop_nulls().alias("rules"),
            pl.col("cycle_date").alias("cycle_key"),
        ]
        exprs = _HOLDING[key] = (first, second, third)
    return exprs


def decision_ref(rule: str, cycle: dt.date, account_id: str) -> str:
    """An intervention's reference (its outbox keys derive from it): rule, cycle, account."""
    ref = f"warning:{rule}:{cycle:%Y%m%d}:{account_id}"
    if len(ref) <= DECISION_REF_CHARS:
        return ref
    digest = hashlib.sha256(account_id.encode()).hexdigest()[:20]
    return f"warning:{rule}:{cycle:%Y%m%d}:#{digest}"


def _empty(schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=dict(schema))


def fired_rules(states: pl.DataFrame, policy: WarningPolicy, as_of: dt.date) -> pl.DataFrame:
    """Every rule whose condition holds for a current account (``FIRED_SCHEMA``), before the
    cool-downs and the cap."""
    table = trigger_table(states, as_of).lazy()
    parts = []
    for rule in policy.file.rules:
        action = policy.intervention_of(rule)
        parts.append(
            table.filter(compile_condition(rule.when)).with_columns(
                pl.lit(rule.code).alias("rule"),
                pl.lit(rule.reason).alias("reason"),
                pl.lit(rule.intervention).alias("intervention"),
                pl.lit(action.kind).alias("kind"),
                pl.lit(action.kind != "hold_increases").alias("sends"),
                pl.lit(rule.priority, pl.Int32).alias("priority"),
            )
        )
    fired = pl.concat(parts, how="vertical_relaxed").collect()
    if fired.height == 0:
        return _empty(FIRED_SCHEMA)
    fired = fired.with_columns(
        pl.lit(as_of).alias("as_of"),
        pl.lit(policy.version).alias("policy_version"),
        reason_list(pl.col("reason"), pl.col("reason_codes")).alias("reason_codes"),
        pl.Series("decision_ref", _refs(fired), pl.String()),
    )
    return fired.select([pl.col(c).cast(t) for c, t in FIRED_SCHEMA.items()])


def reason_list(rule: pl.Expr, model: pl.Expr) -> pl.Expr:
    """An intervention's reasons: the rule's, then the model's first ``MODEL_REASONS``."""
    known = model.fill_null(pl.lit([], pl.List(pl.String())))
    return pl.concat_list(rule, known.list.head(MODEL_REASONS))


def _refs(fired: pl.DataFrame) -> list[str]:
    rows = zip(fired["rule"], fired["cycle_date"], fired["account_id"], strict=True)
    return [decision_ref(rule, cycle, account) for rule, cycle, account in rows]


def _history(history: pl.DataFrame | None, as_of: dt.date) -> pl.DataFrame:
    if history is None or history.height == 0:
        return _empty(HISTORY_SCHEMA)
    return history.select([pl.col(c).cast(t) for c, t in HISTORY_SCHEMA.items()]).filter(
        pl.col("fired_on") <= as_of
    )


def apply_limits(
    fired: pl.DataFrame,
    history: pl.DataFrame | None,
    policy: WarningPolicy,
    as_of: dt.date,
) -> pl.DataFrame:
    """``fired`` less what the cool-downs and the frequency cap hold back (see the module)."""
    if fired.height == 0:
        return fired
    past = _history(history, as_of)
    key = ["account_id", "rule", "cycle_date"]
    cooldowns = pl.DataFrame(
        {
            "rule": [r.code for r in policy.file.rules],
            "cooldown_days": [r.cooldown_days for r in policy.file.rules],
        },
        schema={"rule": pl.String(), "cooldown_days": pl.Int32()},
    )
    stored = past.select(*key).unique().with_columns(pl.lit(True).alias("stored"))
    fired = fired.join(stored, on=key, how="left").with_columns(pl.col("stored").fill_null(False))
    # the same rule on another cycle, within the rule's cool-down
    recent = (
        past.join(cooldowns, on="rule")
        .filter((pl.lit(as_of) - pl.col("fired_on")).dt.total_days() < pl.col("cooldown_days"))
        .select("account_id", "rule", pl.col("cycle_date").alias("_other_cycle"))
    )
    cooled = fired.join(recent, on=["account_id", "rule"], how="left").filter(
        pl.col("_other_cycle").is_null() | (pl.col("_other_cycle") == pl.col("cycle_date"))
    )
    cooled = cooled.drop("_other_cycle").unique(subset=key, keep="first", maintain_order=True)
    return _capped(cooled, past, policy, as_of).drop("stored")


def _capped(
    fired: pl.DataFrame, past: pl.DataFrame, policy: WarningPolicy, as_of: dt.date
) -> pl.DataFrame:
    cap = policy.file.frequency_cap
    since = as_of - dt.timedelta(days=cap.window_days)
    key = ["account_id", "rule", "cycle_date"]
    used = (
        past.filter(pl.col("sends") & (pl.col("fired_on") > since))
        .join(fired.select(*key), on=key, how="anti")
        .group_by("account_id")
        .agg(pl.len().cast(pl.Int64).alias("_used"))
    )
    sends = (
        fired.filter(pl.col("sends"))
        .join(used, on="account_id", how="left")
        .sort(["account_id", "stored", "priority", "rule"], descending=[False, True, False, False])
        .with_columns(pl.int_range(pl.len()).over("account_id").alias("_rank"))
        .filter(pl.col("_used").fill_null(0) + pl.col("_rank") < cap.max_interventions)
        .drop("_used", "_rank")
    )
    kept = pl.concat([fired.filter(~pl.col("sends")), sends], how="vertical_relaxed")
    return kept.sort(["account_id", "priority", "rule"])


def decide(
    states: pl.DataFrame,
    policy: WarningPolicy,
    as_of: dt.date,
    history: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The interventions due for ``states`` on ``as_of`` (``FIRED_SCHEMA``): every rule that
    holds, less cool-downs and the cap. The one decision of the batch and the consumer."""
    return apply_limits(fired_rules(states, policy, as_of), history, policy, as_of)


def evaluate_account(
    state: Mapping[str, Any],
    policy: WarningPolicy,
    as_of: dt.date,
    history: Iterable[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """One account's interventions due on ``as_of`` (rows of ``FIRED_SCHEMA`` as dicts):
    ``decide`` on a one-row frame. ``state``: what is known of the account (``STATE_SCHEMA``
    keys; a key left out is unknown); ``history``: its stored interventions
    (``HISTORY_SCHEMA`` keys)."""
    frame = pl.DataFrame([dict(state)], infer_schema_length=None)
    rows = [dict(h) for h in history]
    past = pl.DataFrame(rows, schema=HISTORY_SCHEMA) if rows else None
    return decide(frame, policy, as_of, past).to_dicts()
