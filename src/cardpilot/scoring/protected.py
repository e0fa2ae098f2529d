"""Protected attributes: measured for fairness, never a model input.

The list can be extended (the ``protected`` argument of training, a model's metadata), never
shortened: ``DEFAULT_PROTECTED`` is always banned. ``assert_not_protected`` is called on every
feature list before a model is fitted and when a model directory is loaded, so a model that
uses one can neither be trained nor used, whatever list the caller or the model file gives.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_PROTECTED: tuple[str, ...] = ("sex", "marital_status")


class ProtectedAttributeError(ValueError):
    """A protected attribute (or a feature derived from one) was offered to a model."""


def assert_not_protected(
    features: Iterable[str], protected: Iterable[str] = DEFAULT_PROTECTED
) -> None:
    banned = list(dict.fromkeys(p.lower() for p in (*DEFAULT_PROTECTED, *protected)))
    bad = [f for f in features if any(p in f.lower() for p in banned)]
    if bad:
        raise ProtectedAttributeError(
            f"protected attributes must never enter a model: {bad} (protected: {banned}); "
            "remove them from the feature list"
        )
