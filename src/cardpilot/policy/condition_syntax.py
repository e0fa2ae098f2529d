"""The one condition language of every policy file.

A condition is a comparison ``{feature, op, value}`` (or ``value_yuan`` for money), or
``{all: [...]}``, ``{any: [...]}``, ``{not: ...}`` over conditions, nested freely::

    when: {feature: pd, op: ">=", value: 0.35}
    when:
      all:
        - {feature: days_past_due, op: "<=", value: 30}
        - any:
            - {feature: cures, op: ">=", value: 1}
            - {feature: overdue_balance_minor, op: "<", value_yuan: 500}

What a file's conditions may read is its ``Vocabulary`` (the feature table for ``limits.yaml``,
the treatment input for ``overdue.yaml``); a file's schema declares its conditions as
``Annotated[Condition, AfterValidator(VOCABULARY.check)]``. Protected attributes (sex, marital
status) are refused in every file: PIPL art. 24 requires automated decisions without
unreasonable differential treatment. A comparison on a null value is false (an unknown value is
not evidence), except ``is_null``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from cardpilot.policy.base import ConditionError, PolicyModel, YuanAsFen

# Columns a condition may never read. Kept for fairness measurement only (store/models.py).
PROTECTED_ATTRIBUTES: frozenset[str] = frozenset({"sex", "gender", "marital_status", "marriage"})

ComparisonOp = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "not_null"]
Kind = Literal["int", "float", "str", "money"]
Scalar = int | float | str
NULL_OPS = ("is_null", "not_null")
LIST_OPS = ("in", "not_in")


class Comparison(PolicyModel):
    """``{feature, op, value}``: one test on one column; money thresholds as ``value_yuan``."""

    feature: str
    op: ComparisonOp
    value: Scalar | list[Scalar] | None = None
    value_yuan: YuanAsFen | None = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> Comparison:
        given = (self.value is not None) + (self.value_yuan is not None)
        if self.op in NULL_OPS:
            if given:
                raise ValueError(f"op {self.op!r} takes no value")
            return self
        if given != 1:
            raise ValueError(f"op {self.op!r} needs one of value or value_yuan")
        if self.op in LIST_OPS:
            if self.value_yuan is not None:
                raise ValueError(f"{self.op} / not_in are not allowed on money (value_yuan)")
            if not isinstance(self.value, list):
                raise ValueError(f"op {self.op!r} needs a list value")
        elif isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} needs a single value, not a list")
        return self


class AllOf(PolicyModel):
    """Every condition holds."""

    all: list[Condition] = Field(min_length=1)


class AnyOf(PolicyModel):
    """At least one condition holds."""

    any: list[Condition] = Field(min_length=1)


class NotCond(PolicyModel):
    """The condition does not hold (null counts as not holding, so ``not`` of it holds)."""

    not_: Condition = Field(alias="not")


def _condition_kind(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "cmp"
    if isinstance(value, AllOf):
        return "all"
    if isinstance(value, AnyOf):
        return "any"
    if isinstance(value, NotCond):
        return "not"
    return "cmp"


Condition = Annotated[
    Annotated[Comparison, Tag("cmp")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotCond, Tag("not")],
    Discriminator(_condition_kind),
]

AllOf.model_rebuild()
AnyOf.model_rebuild()
NotCond.model_rebuild()

AnyCondition = Comparison | AllOf | AnyOf | NotCond


def condition_parts(cond: AllOf | AnyOf) -> list[AnyCondition]:
    return list(cond.all if isinstance(cond, AllOf) else cond.any)


def comparisons(cond: AnyCondition, path: str = "") -> list[tuple[str, Comparison]]:
    """Every comparison of a condition with its path inside it (``all[1]``, ``not``)."""
    if isinstance(cond, Comparison):
        return [(path, cond)]
    if isinstance(cond, NotCond):
        return comparisons(cond.not_, f"{path}.not" if path else "not")
    key = "all" if isinstance(cond, AllOf) else "any"
    out: list[tuple[str, Comparison]] = []
    for i, part in enumerate(condition_parts(cond)):
        out += comparisons(part, f"{path}.{key}[{i}]" if path else f"{key}[{i}]")
    return out


def condition_features(cond: AnyCondition) -> set[str]:
    """Every feature a condition reads."""
    return {cmp.feature for _, cmp in comparisons(cond)}


@dataclass(frozen=True)
class Vocabulary:
    """The columns one policy file's conditions may read, with their kinds."""

    kinds: Mapping[str, Kind]
    noun: str = "feature"

    def check(self, cond: AnyCondition) -> AnyCondition:
        """The condition, if every comparison reads a known column with a fitting value."""
        for path, cmp in comparisons(cond):
            self._check_comparison(cmp, f"{path}.feature" if path else "feature")
        return cond

    def _check_comparison(self, cmp: Comparison, where: str) -> None:
        name = cmp.feature
        if name in PROTECTED_ATTRIBUTES:
            raise ConditionError(
                where,
                f"{name!r} is a protected attribute and may not steer a decision (PIPL art. 24)",
            )
        kind = self.kinds.get(name)
        if kind is None:
            known = ", ".join(sorted(self.kinds))
            raise ConditionError(where, f"unknown {self.noun} {name!r}; known: {known}")
        if cmp.op in NULL_OPS:
            return
        if kind == "money":
            if cmp.value_yuan is None:
                raise ConditionError(where, f"{name} is money: give the threshold as value_yuan")
            return
        if cmp.value_yuan is not None:
            raise ConditionError(where, f"value_yuan is only for money, not {name} ({kind})")
        values = cmp.value if isinstance(cmp.value, list) else [cmp.value]
        for item in values:
            if (kind == "str") != isinstance(item, str):
                raise ConditionError(where, f"{name} is {kind}; value {item!r} does not fit")
