"""The customer's words for the score's reasons: ``policies/templates/reason_statements.yaml``.

A score reason is a feature with a direction (``cardpilot.scoring.directions``): an adverse
reason (``RC_…``) or a positive factor (``PF_…``). Its statement is the file's text for that
feature and direction, with the account's own figure where the file gives one and the figure
is known (``近6个月中有2个月未按时还款``, ``近6个月平均额度使用率对评分不利（平均87%）``);
without the figure, the bracketed part that holds it is left out. Pure functions over a
validated file: the review, the notices and ``review explain`` share them.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from babel.numbers import format_currency, get_currency_precision
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cardpilot.notify.babel_locale import babel_locale
from cardpilot.notify.policy import TEMPLATES_DIR
from cardpilot.scoring.directions import (
    POSITIVE_PREFIX,
    adverse_code,
    feature_of_code,
    positive_code,
)
from cardpilot.scoring.reasons import REASON_BY_FEATURE

STATEMENTS_FILE = TEMPLATES_DIR / "reason_statements.yaml"
LOCALES = ("zh-CN", "en")
Figure = Literal["percent", "months", "count", "money", "none"]
# The bracketed part of a text that holds its figure, with the space before it (en).
_BRACKETED = re.compile(r"\s?[（(][^（）()]*\{value\}[^（）()]*[）)]")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Texts(_Strict):
    zh_cn: str = Field(alias="zh-CN", min_length=1)
    en: str = Field(min_length=1)

    def get(self, locale: str) -> str:
        return self.zh_cn if locale.startswith("zh") else self.en


class FeatureStatements(_Strict):
    figure: Figure = "none"
    adverse: Texts
    positive: Texts
    adverse_plain: Texts | None = None
    positive_plain: Texts | None = None

    @model_validator(mode="after")
    def _plain_when_figure_is_not_bracketed(self) -> FeatureStatements:
        for direction in ("adverse", "positive"):
            texts: Texts = getattr(self, direction)
            plain = getattr(self, f"{direction}_plain")
            for text in (texts.zh_cn, texts.en):
                if "{value}" in _BRACKETED.sub("", text) and plain is None:
                    raise ValueError(
                        f"{direction} text {text!r} holds its figure outside brackets: "
                        f"give {direction}_plain"
                    )
                if "{value}" in text and self.figure == "none":
                    raise ValueError(f"{text!r} shows a figure but the feature's figure is none")
        return self


class ReasonStatements(_Strict):
    version: str
    features: dict[str, FeatureStatements]

    @model_validator(mode="after")
    def _known_features(self) -> ReasonStatements:
        unknown = sorted(set(self.features) - set(REASON_BY_FEATURE))
        if unknown:
            raise ValueError(f"statements for unknown features {unknown}")
        return self


@lru_cache(maxsize=4)
def load_statements(path: Path = STATEMENTS_FILE) -> ReasonStatements:
    """The validated statements file (cached per path)."""
    with path.open(encoding="utf-8") as fh:
        return ReasonStatements.model_validate(yaml.safe_load(fh))


def is_positive(code: str) -> bool:
    return code.startswith(POSITIVE_PREFIX)


def has_statement(code: str, statements: ReasonStatements | None = None) -> bool:
    feature = feature_of_code(code)
    return feature is not None and feature in (statements or load_statements()).features


def figure_of(code: str, statements: ReasonStatements | None = None) -> Figure:
    """How the account's figure of ``code``'s feature is shown (``none``: not at all)."""
    feature = feature_of_code(code)
    entry = (statements or load_statements()).features.get(feature or "")
    return entry.figure if entry is not None else "none"


def format_figure(value: float, figure: Figure, locale: str, currency: str = "CNY") -> str:
    """An account's figure as a statement shows it: ``87%``, ``2``, ``¥1,200.00``."""
    if figure == "percent":
        return f"{math.floor(value * 100 + 0.5)}%"
    if figure in ("months", "count"):
        return str(math.floor(value + 0.5))
    if figure == "money":
        amount = Decimal(math.floor(value + 0.5)).scaleb(-get_currency_precision(currency))
        return format_currency(amount, currency, locale=babel_locale(locale))
    raise ValueError(f"figure {figure!r} has no format")


def statement(
    code: str,
    locale: str,
    value: float | None = None,
    *,
    currency: str = "CNY",
    statements: ReasonStatements | None = None,
) -> str:
    """The customer's statement of a score reason (``RC_…`` adverse, ``PF_…`` positive), with
    the account's figure ``value`` (the feature's raw value) where its text shows one."""
    statements = statements or load_statements()
    feature = feature_of_code(code)
    entry = statements.features.get(feature or "")
    if entry is None:
        raise KeyError(f"no customer statement for reason code {code!r} in {STATEMENTS_FILE.name}")
    direction = "positive" if is_positive(code) else "adverse"
    texts: Texts = getattr(entry, direction)
    text = texts.get(locale)
    known = value is not None and not (isinstance(value, float) and math.isnan(value))
    # "0 months" says nothing the words do not: a zero count is left out.
    known = known and not (entry.figure in ("months", "count") and value == 0)
    if known and entry.figure != "none" and "{value}" in text:
        assert value is not None
        return text.replace("{value}", format_figure(value, entry.figure, locale, currency))
    plain: Texts | None = getattr(entry, f"{direction}_plain")
    if plain is not None:
        return plain.get(locale)
    return _BRACKETED.sub("", text)


def statement_texts(code: str) -> dict[str, str]:
    """``{locale: text}`` of a score reason without a figure (what a decision stores)."""
    return {locale: statement(code, locale) for locale in LOCALES}


def figure_features(statements: ReasonStatements | None = None) -> frozenset[str]:
    """The features whose statements show the account's figure."""
    statements = statements or load_statements()
    return frozenset(f for f, e in statements.features.items() if e.figure != "none")


def statement_codes(statements: ReasonStatements | None = None) -> list[str]:
    """Every score reason code the file gives words for, adverse and positive."""
    statements = statements or load_statements()
    return sorted(code for f in statements.features for code in (adverse_code(f), positive_code(f)))
