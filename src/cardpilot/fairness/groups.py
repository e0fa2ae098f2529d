"""The protected attributes the fairness report groups accounts by, with their display names.

Sex and marital status are read as the store holds them (``customers.sex``,
``customers.marital_status``); age is banded from ``birth_year`` at the decision's date. A
missing value is its own group, ``unknown``, so every reviewed account is counted once per
attribute.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import polars as pl

UNKNOWN = "unknown"

# Lower edges of the age bands, in years at the decision date; the last band is open.
AGE_BAND_EDGES: tuple[int, ...] = (25, 35, 45, 55, 65)


@dataclass(frozen=True)
class Attribute:
    """One protected attribute: its key, display names and the groups it knows by name."""

    key: str
    name_zh: str
    name_en: str
    group_names: dict[str, tuple[str, str]]  # group → (zh, en); others shown as they are

    def name(self, locale: str) -> str:
        return self.name_zh if is_zh(locale) else self.name_en

    def group_name(self, group: str, locale: str) -> str:
        zh, en = self.group_names.get(group, (group, group))
        return zh if is_zh(locale) else en


def is_zh(locale: str) -> bool:
    return locale.lower().startswith("zh")


def _age_band_names() -> dict[str, tuple[str, str]]:
    names = {f"<{AGE_BAND_EDGES[0]}": (f"{AGE_BAND_EDGES[0]}岁以下", f"under {AGE_BAND_EDGES[0]}")}
    for low, high in itertools.pairwise(AGE_BAND_EDGES):
        names[f"{low}-{high - 1}"] = (f"{low}–{high - 1}岁", f"{low}–{high - 1}")
    last = AGE_BAND_EDGES[-1]
    names[f"{last}+"] = (f"{last}岁及以上", f"{last} and over")
    return names


_UNKNOWN_NAMES = {UNKNOWN: ("未知", "unknown")}

SEX = Attribute(
    "sex", "性别", "Sex", {"female": ("女", "female"), "male": ("男", "male"), **_UNKNOWN_NAMES}
)
MARITAL_STATUS = Attribute(
    "marital_status",
    "婚姻状况",
    "Marital status",
    {
        "married": ("已婚", "married"),
        "single": ("未婚", "single"),
        "divorced": ("离异", "divorced"),
        "widowed": ("丧偶", "widowed"),
        "other": ("其他", "other"),
        **_UNKNOWN_NAMES,
    },
)
AGE_BAND = Attribute("age_band", "年龄段", "Age band", {**_age_band_names(), **_UNKNOWN_NAMES})

ATTRIBUTES: tuple[Attribute, ...] = (SEX, MARITAL_STATUS, AGE_BAND)


def age_band(birth_year: pl.Expr, as_of: pl.Expr) -> pl.Expr:
    """The age band of ``birth_year`` in the year of ``as_of`` (whole years, by calendar year:
    the store keeps the birth year only)."""
    age = as_of.dt.year().cast(pl.Int32) - birth_year.cast(pl.Int32)
    first, last = AGE_BAND_EDGES[0], AGE_BAND_EDGES[-1]
    band = pl.when(age.is_null()).then(pl.lit(UNKNOWN)).when(age < first).then(pl.lit(f"<{first}"))
    for low, high in itertools.pairwise(AGE_BAND_EDGES):
        band = band.when(age < high).then(pl.lit(f"{low}-{high - 1}"))
    return band.otherwise(pl.lit(f"{last}+"))


def _stated(value: pl.Expr) -> pl.Expr:
    """A free-text attribute as a group: trimmed, lower case, ``unknown`` when blank or null."""
    clean = value.cast(pl.String).str.strip_chars().str.to_lowercase()
    return pl.when(clean == "").then(None).otherwise(clean).fill_null(pl.lit(UNKNOWN))


def with_groups(decisions: pl.DataFrame) -> pl.DataFrame:
    """``decisions`` (with ``sex``, ``marital_status``, ``birth_year``, ``as_of``) given one
    group column per attribute of ``ATTRIBUTES``, named by its key."""
    return decisions.with_columns(
        _stated(pl.col("sex")).alias(SEX.key),
        _stated(pl.col("marital_status")).alias(MARITAL_STATUS.key),
        age_band(pl.col("birth_year"), pl.col("as_of")).alias(AGE_BAND.key),
    )
