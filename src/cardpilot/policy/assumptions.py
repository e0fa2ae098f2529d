"""The simulation's assumptions (``simulation.yaml`` beside ``limits.yaml``): what a limit change
is worth and what it costs, each value with its source or the word "assumption".

A file of its own in the policy folder, versioned like the other policy files (``<declared
version>+<content hash>``), on ``policy.base``'s conventions: money in yuan (major units of the
file's currency) under ``value_yuan`` held as integer minor units, percentages 0-100 held as
``Decimal`` and used as integer basis points (``percent_to_bp``, half to even), unknown keys
errors. ``cardpilot simulate`` shows every value beside its source.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError, field_validator

from cardpilot.policy.base import (
    Percent,
    PolicyModel,
    YuanAsFen,
    exact_decimal,
    percent_to_bp,
    validation_message,
)
from cardpilot.policy.files import content_digest, read_yaml_file
from cardpilot.policy.loading import PolicyError, default_policy_path

SIMULATION_FILE = "simulation.yaml"
ASSUMPTION = "assumption"

# Where a value comes from: a citation (a regulation, a contract, a file of the policy), or the
# word "assumption" with the reasoning after it.
Source = Annotated[str, Field(min_length=len(ASSUMPTION), max_length=400)]
Factor = Annotated[Decimal, BeforeValidator(exact_decimal), Field(ge=0, le=10)]


class Sourced(PolicyModel):
    source: Source

    @field_validator("source")
    @classmethod
    def _said(cls, value: str) -> str:
        if not value.strip():
            raise ValueError('give the source, or the word "assumption"')
        return value.strip()


class PercentValue(Sourced):
    """A rate or share, 0-100."""

    pct: Percent

    @property
    def bp(self) -> int:
        return percent_to_bp(self.pct)


class MoneyValue(Sourced):
    """An amount in yuan (major units of the file's currency), held as integer minor units."""

    value_yuan: YuanAsFen


class FactorValue(Sourced):
    """A dimensionless factor (an elasticity), 0-10."""

    value: Factor


class MonthsValue(Sourced):
    months: int = Field(ge=1, le=60)


class SimulationAssumptions(PolicyModel):
    """``simulation.yaml``; ``version`` is the recorded ``<declared>+<content hash>``."""

    version: str = Field(min_length=1)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    # The months the figures cover; the model's PD is read as the default probability over them.
    horizon: MonthsValue
    lgd: PercentValue  # loss given default, share of the exposure
    ccf: PercentValue  # credit-conversion factor: share of the unused limit drawn by default
    interest_rate_annual: PercentValue  # on revolving balances
    annual_fee: MoneyValue  # per account and year
    late_fee: MoneyValue  # per late payment
    interchange_rate: PercentValue  # the issuer's share of card spending
    funding_rate_annual: PercentValue  # the cost of funding the drawn balance
    message_cost: MoneyValue  # per limit-change notice
    fee_waiver_share: PercentValue  # of fees charged, waived
    collection_cost: MoneyValue  # per expected default
    spend_response: FactorValue  # % change of monthly spending per 1 % change of the limit
    balance_response: FactorValue  # % change of the balance per 1 % change of the limit

    def sourced(self) -> dict[str, Sourced]:
        """Every assumption by name, in the file's order."""
        return {
            name: value
            for name in type(self).model_fields
            if isinstance(value := getattr(self, name), Sourced)
        }

    def shown(self) -> list[dict[str, Any]]:
        """Each assumption as the report shows it: name, value as written, unit, source."""
        rows = []
        for name, item in self.sourced().items():
            if isinstance(item, PercentValue):
                value, unit = str(item.pct), "%"
            elif isinstance(item, MoneyValue):
                value, unit = str(Decimal(item.value_yuan).scaleb(-2)), self.currency
            elif isinstance(item, FactorValue):
                value, unit = str(item.value), "factor"
            else:
                assert isinstance(item, MonthsValue)
                value, unit = str(item.months), "months"
            rows.append({"name": name, "value": value, "unit": unit, "source": item.source})
        return rows


def assumptions_from_data(data: object, name: str = SIMULATION_FILE) -> SimulationAssumptions:
    """Validate a parsed ``simulation.yaml``; ``PolicyError`` names the file and the field."""
    try:
        checked = SimulationAssumptions.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(validation_message(name, exc)) from exc
    dumped = checked.model_dump(mode="json", by_alias=True)
    return checked.model_copy(update={"version": f"{checked.version}+{content_digest(dumped)}"})


def load_assumptions(path: Path | None = None) -> SimulationAssumptions:
    """The ``simulation.yaml`` of a policy folder (or the file itself; default: the shipped
    policy's)."""
    target = default_policy_path() if path is None else Path(path)
    if target.is_dir():
        target = target / SIMULATION_FILE
    data = read_yaml_file(
        target,
        PolicyError,
        f"a policy folder that is simulated holds {SIMULATION_FILE} (or pass --assumptions FILE)",
    )
    return assumptions_from_data(data, str(target))
