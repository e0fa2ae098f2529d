"""Personal limit advice: at most three things a customer can do to reach the next grade, each
with the points it gains, computed on the model itself.

An action of the customer policy (``AdviceAction``) is what the customer does to their next
statements: pay each bill in full (or the minimum) on time, keep the balance under a share of
the limit, for so many cycles. Advice is counterfactual and honest: the account's next
statements are simulated with the action(s) applied (``simulate``), its behaviour features are
computed from them by the same code the review uses, and the model rescores them. What the
customer cannot change by acting is pinned to its current value (``PINNED``: the limit, tenure,
age, education, income) and protected attributes are never read, so no advice rests on getting
older, staying longer or anything protected.

The search tries every combination of at most ``max_actions`` actions and keeps the smallest
that reaches the next grade (the most points among equals); when none does, the one gaining
most. Each action's gain is its marginal gain in the order of the actions' own gains, so the
gains add up to the advice's total. Pure: frames and a model in, frames and records out.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import polars as pl

from cardpilot.domain.money import BP
from cardpilot.domain.plans import add_months
from cardpilot.policy.base import percent_to_bp
from cardpilot.policy.customer import AdviceAction, AdvicePolicy
from cardpilot.policy.limit_arithmetic import grade_expr
from cardpilot.policy.schema import Policy
from cardpilot.scoring.features import behaviour_features

# Features a customer cannot move by acting: kept at their current value in every simulation.
PINNED = (
    "credit_limit_minor",
    "history_months",
    "months_on_book",
    "age",
    "education",
    "annual_income_minor",
)
PAYMENT_STRENGTH = {"usual": 0, "minimum": 1, "full": 2}
_SEP = "\x1f"  # joins an account id and a combination number into a simulated account's id


class Frames(Protocol):
    @property
    def statements(self) -> pl.DataFrame: ...
    @property
    def accounts(self) -> pl.DataFrame: ...
    @property
    def customers(self) -> pl.DataFrame: ...


@dataclass(frozen=True)
class SimFrames:
    statements: pl.DataFrame
    accounts: pl.DataFrame
    customers: pl.DataFrame


class Scorer(Protocol):
    def score(self, features: pl.DataFrame) -> pl.DataFrame: ...


@dataclass(frozen=True)
class Move:
    """Actions combined: the longest horizon, the strongest payment, the lowest utilisation."""

    months: int
    payment: str
    utilisation_at_most: float | None

    @classmethod
    def of(cls, actions: Sequence[AdviceAction]) -> Move:
        caps = [a.utilisation_at_most for a in actions if a.utilisation_at_most is not None]
        return cls(
            months=max(a.months for a in actions),
            payment=max((a.payment for a in actions), key=PAYMENT_STRENGTH.__getitem__),
            utilisation_at_most=min(caps) if caps else None,
        )


def _state(frames: Frames) -> pl.DataFrame:
    """Per account: the latest statement (its limit, else the account's) and the customer's
    usual spending and payment."""
    ordered = frames.statements.sort("account_id", "cycle_date").with_columns(
        _prev=pl.col("statement_balance_minor").shift(1).over("account_id")
    )
    spend = pl.coalesce(
        pl.col("purchases_minor") + pl.col("cash_advances_minor").fill_null(0),
        pl.max_horizontal(
            pl.col("statement_balance_minor") - pl.col("_prev") + pl.col("amount_paid_minor"),
            pl.lit(0, pl.Int64),
        ),
    )
    state = ordered.group_by("account_id", maintain_order=True).agg(
        pl.col("cycle_date").last().alias("last_cycle"),
        pl.col("statement_balance_minor").last().alias("balance"),
        pl.col("credit_limit_minor").last().alias("limit"),
        ((pl.col("days_past_due").fill_null(0).last() + 29) // 30).alias("months_late"),
        spend.mean().fill_null(0).round(0).cast(pl.Int64).alias("spend"),
        pl.col("amount_paid_minor").mean().fill_null(0).round(0).cast(pl.Int64).alias("usual"),
        pl.col("purchases_minor").last().is_not_null().alias("reports_spend"),
    )
    limits = frames.accounts.select("account_id", pl.col("credit_limit_minor").alias("_account"))
    return state.join(limits, on="account_id", how="left").select(
        pl.exclude("limit", "_account"),
        pl.coalesce("limit", "_account").alias("limit"),
    )


def _cycle(state: pl.DataFrame, move: Move, minimum_bp: int) -> pl.DataFrame:
    """One simulated cycle per account: what is paid, spent and owed, and whether on time."""
    owed = pl.col("balance").clip(lower_bound=0)
    minimum = owed * minimum_bp // BP
    base = {
        "full": owed,
        "minimum": minimum,
        "usual": pl.min_horizontal(pl.col("usual"), owed),
    }[move.payment]
    spend = pl.col("spend")
    if move.utilisation_at_most is not None:
        target = (pl.col("limit") * move.utilisation_at_most).floor().cast(pl.Int64)
        base = pl.max_horizontal(base, pl.col("balance") + spend - target).clip(0, owed)
        spend = pl.min_horizontal(spend, (target - (pl.col("balance") - base)).clip(0))
    paid = base.clip(0, owed)
    frame = state.with_columns(paid.alias("paid"), spend.alias("spent"), minimum.alias("min_due"))
    on_time = pl.col("paid") >= pl.col("min_due")
    late = pl.when(on_time).then(0).otherwise(pl.col("months_late") + 1)
    status = (
        pl.when((pl.col("balance") <= 0) & (pl.col("spent") == 0))
        .then(-2)
        .when((pl.col("balance") > 0) & (pl.col("paid") >= pl.col("balance")))
        .then(-1)
        .when(on_time)
        .then(0)
        .otherwise(pl.min_horizontal(late, 9))
    )
    return frame.with_columns(
        late.alias("months_late"),
        status.cast(pl.Int16).alias("status"),
        (pl.col("balance") - pl.col("paid") + pl.col("spent")).alias("new_balance"),
    )


def simulate(
    frames: Frames, move: Move, minimum_pct: Any, state: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The accounts' statements with ``move.months`` simulated cycles appended (``state``:
    ``_state(frames)``, when the caller has it already)."""
    minimum_bp = percent_to_bp(minimum_pct)
    state = _state(frames) if state is None else state
    columns = frames.statements.columns
    added = []
    for n in range(1, move.months + 1):
        cycle = _cycle(state, move, minimum_bp)
        dates = [add_months(d, n) for d in state.get_column("last_cycle").to_list()]
        reported = pl.col("reports_spend")
        rows = cycle.select(
            "account_id",
            pl.Series("cycle_date", dates, dtype=pl.Date),
            pl.col("limit").alias("credit_limit_minor"),
            pl.col("new_balance").alias("statement_balance_minor"),
            pl.col("min_due").alias("minimum_due_minor"),
            pl.col("paid").alias("amount_paid_minor"),
            pl.when(reported).then(pl.col("spent")).alias("purchases_minor"),
            pl.when(reported).then(pl.lit(0, pl.Int64)).alias("cash_advances_minor"),
            pl.col("status").alias("repayment_status"),
            (pl.col("months_late") * 30).cast(pl.Int32).alias("days_past_due"),
        )
        added.append(rows)
        state = cycle.select(
            "account_id",
            "last_cycle",
            pl.col("new_balance").alias("balance"),
            "limit",
            "months_late",
            "spend",
            "usual",
            "reports_spend",
        )
    extra = pl.concat(added).with_columns(
        pl.lit(None, dtype=pl.Date).alias("due_date") if "due_date" in columns else []
    )
    return pl.concat([frames.statements, extra.select(columns).cast(frames.statements.schema)])


def advised_features(
    frames: Frames, as_of: dt.date, actions: Sequence[AdviceAction], minimum_pct: Any
) -> pl.DataFrame:
    """The accounts' behaviour features after ``actions`` (none: as they are at ``as_of``),
    with ``PINNED`` features kept at their current values."""
    current = behaviour_features(frames, as_of)
    if not actions:
        return current
    moved = _moved_features(frames, as_of, current, [Move.of(actions)], minimum_pct)
    return _untagged(moved).drop("_move")


def _tagged(frame: pl.DataFrame, move: int) -> pl.DataFrame:
    return frame.with_columns(pl.col("account_id") + f"{_SEP}{move}")


def _untagged(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its accounts' own ids, the move's index in ``_move``."""
    return frame.with_columns(
        pl.col("account_id").str.replace(f"{_SEP}[0-9]+$", ""),
        pl.col("account_id").str.extract(f"{_SEP}([0-9]+)$").cast(pl.Int32).alias("_move"),
    )


def _moved_features(
    frames: Frames,
    as_of: dt.date,
    current: pl.DataFrame,
    moves: Sequence[Move],
    minimum_pct: Any,
) -> pl.DataFrame:
    """The features of the accounts after each of ``moves``, ``PINNED`` ones from ``current``,
    in one frame: a simulated account's id is the account's, ``_SEP`` and the move's index.

    The features are per account, so the accounts of every move with one horizon are computed
    together: one feature run per horizon rather than one per move."""
    parts = []
    state = _state(frames)
    for months in sorted({m.months for m in moves}):
        numbered = [(k, m) for k, m in enumerate(moves) if m.months == months]
        statements = [_tagged(simulate(frames, m, minimum_pct, state), k) for k, m in numbered]
        accounts = [_tagged(frames.accounts, k) for k, _ in numbered]
        simulated = SimFrames(pl.concat(statements), pl.concat(accounts), frames.customers)
        parts.append(behaviour_features(simulated, add_months(as_of, months)))
    pinned = [c for c in PINNED if c in current.columns]
    own = pl.col("account_id").str.replace(f"{_SEP}[0-9]+$", "").alias("_own")
    now = current.select(pl.col("account_id").alias("_own"), *pinned)
    return (
        pl.concat(parts)
        .drop(pinned)
        .with_columns(own)
        .join(now, on="_own", how="left")
        .select(current.columns)
    )


@dataclass(frozen=True)
class Scored:
    """Scores and grades of one combination of actions, per account."""

    combo: tuple[int, ...]
    frame: pl.DataFrame  # account_id, score, pd, grade, rank (0 = the best grade)


def _graded(scores: pl.DataFrame, limits: Policy) -> pl.DataFrame:
    """``scores`` (account_id, score, pd) with each account's grade and its rank."""
    ranks = {g.code: i for i, g in enumerate(limits.limits.grades)}
    graded = scores.with_columns(grade_expr(limits.limits).alias("grade"))
    return graded.with_columns(
        pl.col("grade").replace_strict(ranks, default=None, return_dtype=pl.Int64).alias("rank")
    )


def combinations(advice: AdvicePolicy) -> list[tuple[int, ...]]:
    """Every non-empty set of at most ``max_actions`` actions, by index, smallest first."""
    n = len(advice.actions)
    return [
        c for k in range(1, advice.max_actions + 1) for c in itertools.combinations(range(n), k)
    ]


def scored_combinations(
    frames: Frames, as_of: dt.date, model: Scorer, limits: Policy, advice: AdvicePolicy
) -> list[Scored]:
    """The accounts scored and graded as they are (first, combination ``()``) and after each
    combination of actions (``combinations``), as ``advised_features`` and the model give them.

    Combinations that make the same ``Move`` (paying in full also pays the minimum) are
    simulated once, and the accounts of every move are scored in one call."""
    current = behaviour_features(frames, as_of)
    moves = {c: Move.of([advice.actions[i] for i in c]) for c in combinations(advice)}
    distinct = list(dict.fromkeys(moves.values()))
    moved = _moved_features(frames, as_of, current, distinct, advice.minimum_payment_pct)
    scores = _untagged(model.score(moved).select("account_id", "score", "pd"))
    by_move = scores.partition_by("_move", as_dict=True, include_key=False)
    empty = scores.clear().drop("_move")
    now = model.score(current).select("account_id", "score", "pd")
    tried = [Scored((), _graded(now, limits))]
    for combo, move in moves.items():
        frame = by_move.get((distinct.index(move),), empty)
        tried.append(Scored(combo, _graded(frame, limits)))
    return tried


def advise(
    frames: Frames, as_of: dt.date, model: Scorer, limits: Policy, advice: AdvicePolicy
) -> list[dict[str, Any]]:
    """One piece of advice per account of ``frames`` (accounts with statements before
    ``as_of``): its score and grade now, the actions, each one's gain, the score and grade
    they reach (``promised_grade``), and whether that is the next grade."""
    return _choose(scored_combinations(frames, as_of, model, limits, advice), limits, advice)


def _choose(tried: list[Scored], limits: Policy, advice: AdvicePolicy) -> list[dict[str, Any]]:
    codes = [g.code for g in limits.limits.grades]
    wide = tried[0].frame.rename({"score": "score_now", "grade": "grade_now", "rank": "rank_now"})
    by_combo: dict[tuple[int, ...], dict[str, tuple[int, int]]] = {}
    for s in tried[1:]:
        by_combo[s.combo] = {
            a: (int(sc), int(r))
            for a, sc, r in s.frame.select("account_id", "score", "rank").iter_rows()
        }
    out = []
    for row in wide.iter_rows(named=True):
        account, score_now, rank_now = row["account_id"], row["score_now"], row["rank_now"]
        if score_now is None:
            continue
        target = max(rank_now - 1, 0)
        results = {c: by_combo[c][account] for c in by_combo if account in by_combo[c]}
        reaching = [c for c, (sc, r) in results.items() if r <= target and sc > score_now]
        if reaching:
            best = min(reaching, key=lambda c: (len(c), -results[c][0]))
        else:
            gaining = [c for c, (sc, _) in results.items() if sc > score_now]
            if not gaining:
                out.append(_advice(row, codes, target, [], score_now, rank_now, advice))
                continue
            best = min(gaining, key=lambda c: (-results[c][0], len(c)))
        order = sorted(best, key=lambda i: (-results[(i,)][0], i))
        steps, before = [], score_now
        for k in range(1, len(order) + 1):
            after = results[tuple(sorted(order[:k]))][0]
            steps.append((order[k - 1], after - before))
            before = after
        score, rank = results[best]
        out.append(_advice(row, codes, target, steps, score, rank, advice))
    return out


def _advice(
    row: dict[str, Any],
    codes: list[str],
    target: int,
    steps: list[tuple[int, int]],
    score: int,
    rank: int,
    advice: AdvicePolicy,
) -> dict[str, Any]:
    actions = []
    for index, gain in steps:
        action = advice.actions[index]
        actions.append(
            {
                "code": action.code,
                "zh-CN": action.text.zh_cn,
                "en": action.text.en,
                "months": action.months,
                "points": gain,
            }
        )
    return {
        "account_id": row["account_id"],
        "score": row["score_now"],
        "grade": row["grade_now"],
        "next_grade": codes[target],
        "actions": actions,
        "promised_score": score,
        "promised_grade": codes[rank],
        "reaches_next_grade": bool(steps) and rank <= target and rank < row["rank_now"],
    }


def advice_lines(advice: dict[str, Any], limits: Policy) -> dict[str, list[str]]:
    """A piece of advice as the lines of a message, per locale: each action with the points it
    gains, then the score and grade they reach. Empty when no action gains anything."""
    if not advice["actions"] or advice["promised_score"] <= advice["score"]:
        return {}
    labels = {g.code: g.label for g in limits.limits.grades}
    out: dict[str, list[str]] = {"zh-CN": [], "en": []}
    for a in advice["actions"]:
        out["zh-CN"].append(f"{a['zh-CN']}：评分约+{a['points']}")
        out["en"].append(f"{a['en']}: about +{a['points']} points")
    grade = labels[advice["promised_grade"]]
    out["zh-CN"].append(f"做到以上几点，评分可达约{advice['promised_score']}（{grade.zh_cn}）")
    out["en"].append(
        f"Together these bring your score to about {advice['promised_score']} ({grade.en})"
    )
    return out


def tips_advice(
    frames: Frames,
    accounts: Sequence[str],
    as_of: dt.date,
    model: Scorer,
    limits: Policy,
    advice: AdvicePolicy,
) -> dict[str, dict[str, list[str]]]:
    """Advice lines (``advice_lines``) of ``accounts`` (those a tips message goes to)."""
    if not accounts:
        return {}
    keep = pl.col("account_id").is_in(pl.Series(list(accounts), dtype=pl.String).implode())
    subset = SimFrames(
        frames.statements.filter(keep), frames.accounts.filter(keep), frames.customers
    )
    out = {}
    for record in advise(subset, as_of, model, limits, advice):
        lines = advice_lines(record, limits)
        if lines:
            out[str(record["account_id"])] = lines
    return out
