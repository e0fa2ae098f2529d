"""Scores to probability of default.

Platt scaling: ``pd = 1 / (1 + exp(-(a + b·s)))`` on a score or a model margin, fitted on
training data only (for the GBM on out-of-fold margins), never on the test split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cardpilot.scoring.scaling import PointsScale


@dataclass(frozen=True)
class PlattCalibration:
    a: float
    b: float

    @classmethod
    def fit(cls, s: npt.ArrayLike, y: npt.ArrayLike) -> PlattCalibration:
        from sklearn.linear_model import LogisticRegression

        x = np.asarray(s, dtype=np.float64).reshape(-1, 1)
        centre = float(x.mean())
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(x - centre, np.asarray(y))
        b = float(lr.coef_[0][0])
        return cls(a=float(lr.intercept_[0]) - b * centre, b=b)

    @classmethod
    def identity(cls, scale: PointsScale) -> PlattCalibration:
        """The PD the points scale itself implies (before any refit)."""
        return cls(a=scale.offset / scale.factor, b=-1.0 / scale.factor)

    def pd(self, s: npt.ArrayLike) -> npt.NDArray[np.float64]:
        z = self.a + self.b * np.asarray(s, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict[str, Any]:
        return {"method": "platt", "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlattCalibration:
        return cls(a=float(data["a"]), b=float(data["b"]))
