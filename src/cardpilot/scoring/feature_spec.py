"""One entry of a feature dictionary (behaviour features, application features)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureSpec:
    """What a feature column means, and the direction of its risk where the domain sets one."""

    name: str
    kind: str  # "numeric" | "categorical" | "id"
    unit: str
    description: str
    # Direction of risk where the domain demands it: +1 higher value never lowers risk,
    # -1 higher value never raises risk, 0 no constraint (learned from data).
    risk_direction: int = 0
