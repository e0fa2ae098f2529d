"""Points scaling: log-odds to scorecard points.

score = offset + factor · ln(good:bad odds), with factor = PDO / ln 2 and
offset = base_score − factor · ln(base_odds). Default: 600 points at 50:1 good:bad odds,
20 points to double the odds (the usual industry convention).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class PointsScale:
    base_score: float = 600.0
    base_odds: float = 50.0  # good:bad odds at base_score
    pdo: float = 20.0  # points to double the odds

    def __post_init__(self) -> None:
        if self.base_odds <= 0 or self.pdo <= 0:
            raise ValueError("base_odds and pdo must be positive")

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * math.log(self.base_odds)

    def score_from_pd(self, pd: npt.ArrayLike) -> npt.NDArray[np.float64]:
        p = np.clip(np.asarray(pd, dtype=np.float64), 1e-9, 1 - 1e-9)
        return self.offset + self.factor * np.log((1 - p) / p)

    def pd_from_score(self, score: npt.ArrayLike) -> npt.NDArray[np.float64]:
        s = np.asarray(score, dtype=np.float64)
        log_odds_good = (s - self.offset) / self.factor
        return 1.0 / (1.0 + np.exp(log_odds_good))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
