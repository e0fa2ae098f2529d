"""What every policy file shares: the strict model base, money, percentages, codes, and the one
error format.

* **Money** is written in yuan (major units of the policy currency) under keys ending in
  ``_yuan`` and held as integer fen (minor units). ``parse_yuan`` reads it as ``Decimal``
  (a YAML float through its shortest text, which is what the analyst wrote); an amount must be
  whole fen and not negative. Nothing is rounded: a third decimal is an error naming the field,
  because a threshold that silently moves by a fraction of a fen is not the policy written.
* **Percentages** are written 0–100 and held exactly as ``Decimal``; the engines work in integer
  basis points (1 % = 100 bp). ``percent_to_bp`` is the one conversion and rounds **half to
  even** to a whole basis point (12.345 % → 1234 bp, 12.355 % → 1236 bp), so a percentage with
  more than two decimals is never biased upwards or downwards on average.
* Unknown keys are errors, so a misspelt key is never silently ignored.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializationInfo,
    ValidationError,
)

from cardpilot.domain.money import MINOR_PER_MAJOR, format_major

BP_PER_PERCENT = 100

# Serialisation context key: ``{"money": "fen"}`` dumps money as the integer fen held, the
# layout the overdue policy's content hash has always used (policy versions stay stable).
MONEY_DUMP = "money"


class PolicyModel(BaseModel):
    """Base of every policy model: unknown keys are errors; loaded values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def exact_decimal(value: object) -> object:
    """A YAML float as the Decimal of its shortest text (``0.0005``, never 0.000499999…)."""
    return Decimal(repr(value)) if isinstance(value, float) else value


def parse_yuan(value: object) -> int:
    """An amount in yuan (``5000``, ``"5,000.50"``, ``0.5``) as integer fen; exact or an error."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError('must be an amount in yuan, e.g. 5000 or "5000.00"')
    if isinstance(value, int):
        amount = Decimal(value)
    else:
        text = repr(value) if isinstance(value, float) else str(value)
        try:
            amount = Decimal(text.strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError(f'not an amount in yuan: {value!r} (write e.g. "5000.00")') from None
    if not amount.is_finite():
        raise ValueError(f"not an amount in yuan: {value!r}")
    if amount < 0:
        raise ValueError("must not be negative")
    fen = amount * MINOR_PER_MAJOR
    if fen != fen.to_integral_value():
        raise ValueError(f"{value!r} has more than two decimals: amounts are whole fen")
    return int(fen)


def _dump_yuan(fen: int, info: SerializationInfo) -> str | int:
    if info.context and info.context.get(MONEY_DUMP) == "fen":
        return fen
    return format_major(fen)


# Yuan in the file, integer fen in memory; dumped back as exact yuan text.
YuanAsFen = Annotated[
    int, BeforeValidator(parse_yuan), PlainSerializer(_dump_yuan, return_type=str | int)
]
Percent = Annotated[Decimal, BeforeValidator(exact_decimal), Field(ge=0, le=100)]
ReasonCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=64)]
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=32)]


def percent_to_bp(value: Decimal) -> int:
    """Percent (``Decimal("12.5")``) to integer basis points (1250), half to even."""
    return int((value * BP_PER_PERCENT).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


# --------------------------------------------------------------------------- errors


class ConditionError(ValueError):
    """A condition that reads the wrong thing; ``path`` is where inside the condition."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


def format_loc(loc: tuple[int | str, ...]) -> str:
    """``("grades", 2, "decrease", "floor_yuan")`` → ``grades[2].decrease.floor_yuan``."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        # Condition union tags are not fields the analyst wrote: "cmp", and "all"/"any"/"not"
        # when the field of the same name follows.
        next_part = loc[i + 1] if i + 1 < len(loc) else None
        if part == "cmp" or (part in ("all", "any", "not") and next_part == part):
            continue
        out += f".{part}" if out else str(part)
    return out or "(top level)"


def validation_message(file: str, exc: ValidationError) -> str:
    """One line per error: ``file: field.path: what is wrong``."""
    lines = []
    for err in exc.errors():
        where = format_loc(tuple(err["loc"]))
        cause: Any = (err.get("ctx") or {}).get("error")
        if isinstance(cause, ConditionError) and cause.path:
            where = f"{where}.{cause.path}" if where != "(top level)" else cause.path
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{file}: {where}: {msg}")
    return "\n".join(lines)
