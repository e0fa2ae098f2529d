"""The reasons of a limit decision: the list of codes (decision first, then the score's own)
and their zh-CN and English texts."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

import polars as pl

from cardpilot.policy.row_exprs import Expr
from cardpilot.policy.schema import Policy

MAX_REASONS = 4  # ECOA/Reg B commentary: more than four reasons do not help (REGULATION.md)

ReasonTexts = Mapping[str, Mapping[str, str]]


def reason_text_exprs(
    policy: Policy,
    texts_key: tuple[tuple[str, str, str], ...],
    codes: Expr | None = None,
    ns: ModuleType = pl,
) -> list[Expr]:
    """``reason_texts_zh`` and ``reason_texts_en`` of ``codes`` (default: the
    ``reason_codes`` column): the policy's texts, then the caller's texts for the score's
    own codes; an unknown code shows as itself."""
    codes = ns.col("reason_codes") if codes is None else codes
    zh: dict[str, str] = {code: text_zh for code, text_zh, _ in texts_key}
    en: dict[str, str] = {code: text_en for code, _, text_en in texts_key}
    for code, text in policy.reasons.reasons.items():
        zh[code] = text.zh_cn
        en[code] = text.en

    def texts_of(mapping: dict[str, str]) -> Expr:
        return codes.list.eval(
            ns.element().replace_strict(mapping, default=ns.element(), return_dtype=pl.String)
        )

    return [texts_of(zh).alias("reason_texts_zh"), texts_of(en).alias("reason_texts_en")]


def score_reasons(is_inc: Expr, ns: ModuleType = pl) -> Expr:
    """The score's reasons in the decision's direction: an increase states the positive
    factors that earned it (``positive_codes``), every other outcome the adverse reasons
    (``reason_codes``), as adverse-action practice asks (REGULATION.md). A scorer that gives
    no positive factors leaves an increase with the decision's own reasons only."""
    return ns.when(is_inc).then(ns.col("positive_codes")).otherwise(ns.col("reason_codes"))


def reason_list(*parts: Expr, score_reasons: Expr | None = None, ns: ModuleType = pl) -> Expr:
    """Decision reasons first, then the score's own reasons (default: ``reason_codes``);
    nulls dropped, at most four."""
    score_reasons = (ns.col("reason_codes") if score_reasons is None else score_reasons).fill_null(
        ns.lit([], dtype=pl.List(pl.String))
    )
    return (
        ns.concat_list([*parts, score_reasons])
        .list.drop_nulls()
        .list.unique(maintain_order=True)
        .list.head(MAX_REASONS)
    )


def reason_texts_key(texts: ReasonTexts | None) -> tuple[tuple[str, str, str], ...]:
    """The caller's extra reason texts as a sorted, hashable key (plans are cached by it)."""
    if not texts:
        return ()
    return tuple(
        sorted((code, t.get("zh-CN", code), t.get("en", code)) for code, t in texts.items())
    )
