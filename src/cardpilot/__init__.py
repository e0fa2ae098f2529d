"""cardpilot: credit-card limit and overdue management.

The notebook API (``cp.load_model``, ``cp.features``, ``cp.CreditScorecard``, ``cp.CreditGbm``)
is imported on first use, so the command line does not pay for scikit-learn at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cardpilot.version import __version__

_NOTEBOOK = frozenset(
    {"CreditGbm", "CreditModel", "CreditScorecard", "LayoutError", "features", "load_model"}
)

if TYPE_CHECKING:
    from cardpilot.notebook import (
        CreditGbm,
        CreditModel,
        CreditScorecard,
        LayoutError,
        features,
        load_model,
    )


def __getattr__(name: str) -> Any:
    if name in _NOTEBOOK:
        from cardpilot import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module 'cardpilot' has no attribute {name!r}")


__all__ = [
    "CreditGbm",
    "CreditModel",
    "CreditScorecard",
    "LayoutError",
    "__version__",
    "features",
    "load_model",
]
