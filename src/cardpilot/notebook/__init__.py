"""The Python API for notebooks: load a model, compute features, score a data frame.

``import cardpilot as cp`` exposes the same names (docs/notebook.md).
"""

from cardpilot.notebook.estimators import (
    CreditGbm,
    CreditModel,
    CreditScorecard,
    features,
    load_model,
)
from cardpilot.notebook.layouts import LayoutError

__all__ = [
    "CreditGbm",
    "CreditModel",
    "CreditScorecard",
    "LayoutError",
    "features",
    "load_model",
]
