"""Composing a notice: template files per message type, channel and locale, Babel formats.

Templates live in ``policies/templates/<message_type>/`` as ``<channel>.<locale>.j2`` (SMS and
in-app body), ``email.<locale>.txt.j2`` and ``email.<locale>.html.j2`` (multipart e-mail; HTML
optional) and ``subject.<locale>.j2`` (e-mail subject, in-app title). A missing locale falls
back to zh-CN, the default. Amounts are formatted with Babel in the message's locale
(``¥12,000.00`` in zh-CN) and dates in the customer's calendar (the effective date is a date).

Templates see no personal data: not the name, phone, e-mail or national ID, only the last four
characters of the account id, so a rendered body is safe to keep in the outbox and to preview.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, get_currency_precision
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, meta, nodes

from cardpilot.notify.babel_locale import babel_locale
from cardpilot.notify.notice import LimitBasis, LimitChangeNotice, as_notice
from cardpilot.notify.policy import TEMPLATES_DIR, NotifyPolicy, default_policy
from cardpilot.notify.prefs import ContactPrefs
from cardpilot.notify.reasons import is_positive
from cardpilot.notify.sms_coding import sms_units

DEFAULT_LOCALE = "zh-CN"
LOCALES = ("zh-CN", "en")


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """One message ready for the outbox (and, with an address, for a channel)."""

    message_type: str
    category: str
    channel: str
    locale: str
    subject: str | None
    body_text: str
    body_html: str | None
    templates_version: str


@lru_cache(maxsize=8192)
def format_money(amount_minor: int, currency: str, locale: str, iso: bool = False) -> str:
    """Integer minor units → ``¥12,000.00`` (zh-CN) / ``CN¥12,000.00`` (en); ``iso``:
    ``CNY 12,000.00``."""
    places = get_currency_precision(currency)
    amount = Decimal(amount_minor).scaleb(-places)
    if iso:
        return f"{currency} {format_decimal(amount, format='#,##0.00', locale=babel_locale('en'))}"
    return format_currency(amount, currency, locale=babel_locale(locale))


_FIGURE = re.compile(r"\s?[（(][^（）()]*[）)]")


def without_figure(text: str) -> str:
    """A reason without its bracketed figure (``可用额度对评分不利``)."""
    return _FIGURE.sub("", text)


def main_reason(notice: LimitChangeNotice, locale: str) -> str:
    """The reason an SMS gives: for an increase the first positive factor (its first reason
    is the rule's generic sentence), otherwise the first reason (the rule that applied),
    without its closing full stop; empty when there is none."""
    reasons = list(notice.reasons)
    if notice.action == "increase":
        reasons = [r for r in reasons if is_positive(r.code)] or reasons
    if not reasons:
        return ""
    return reasons[0].text(locale).rstrip("。.")


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.normalize():f}"


def basis_context(basis: LimitBasis | None, locale: str) -> dict[str, Any]:
    """The grade and the rule as templates name them (None where unknown)."""
    if basis is None:
        return {"grade": None, "rule": None}
    return {
        "grade": basis.grade_label(locale),
        "rule": {
            "increase_min": _pct(basis.increase_min_pct),
            "increase_max": _pct(basis.increase_max_pct),
            "cut": _pct(basis.cut_pct),
            "applied": _pct(basis.applied_pct),
        },
    }


@lru_cache(maxsize=1024)
def format_day(day: dt.date, locale: str) -> str:
    """``2026年12月1日`` (zh-CN) / ``December 1, 2026`` (en)."""
    return format_date(day, format="long", locale=babel_locale(locale))


def supported_locale(locale: str | None) -> str:
    if locale in LOCALES:
        return locale
    if locale and locale.lower().startswith("en"):
        return "en"
    return DEFAULT_LOCALE


@lru_cache(maxsize=4)
def _environment(templates_dir: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(str(templates_dir)),
        undefined=StrictUndefined,
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        keep_trailing_newline=False,
        trim_blocks=False,
        # The templates are the policy's, fixed while a process runs: no file check per render.
        auto_reload=False,
    )


class Composer:
    """Renders notices with one policy and one template folder (cached templates)."""

    def __init__(
        self, policy: NotifyPolicy | None = None, templates_dir: Path = TEMPLATES_DIR
    ) -> None:
        self.policy = policy or default_policy()
        self.env = _environment(templates_dir)

    def context(
        self, notice: LimitChangeNotice, locale: str, iso_money: bool = False
    ) -> dict[str, Any]:
        """What templates see; ``iso_money``: amounts with the currency's ISO code
        (``CNY 12,000.00``), for an English SMS that must stay in the GSM-7 alphabet."""
        return {
            "locale": locale,
            "action": notice.action,
            "account_tail": notice.account_id[-4:],
            "old_limit": format_money(notice.old_limit_minor, notice.currency, locale, iso_money),
            "new_limit": format_money(notice.new_limit_minor, notice.currency, locale, iso_money),
            "effective_date": format_day(notice.effective_date, locale),
            "reasons": [r.text(locale) for r in notice.reasons],
            "reason_codes": [r.code for r in notice.reasons],
            "main_reason": main_reason(notice, locale),
            "money": lambda minor: format_money(int(minor), notice.currency, locale, iso_money),
            "policy_version": notice.policy_version,
            "issuer": self.policy.issuer.get(locale) or self.policy.issuer[DEFAULT_LOCALE],
            **basis_context(notice.basis, locale),
            **dict(notice.extra),
        }

    def render(self, notice: LimitChangeNotice, channel: str, locale: str) -> RenderedMessage:
        locale = supported_locale(locale)
        mtype = notice.message_type
        ctx = self.context(notice, locale, iso_money=channel == "sms" and locale == "en")
        if channel == "sms":  # whole amounts without their cents: SMS characters are few
            for key in ("old_limit", "new_limit"):
                ctx[key] = ctx[key].removesuffix(".00")
        sms = f"{mtype}/sms.{locale}.j2"
        subject = ""
        # An SMS has no subject: it is rendered only for an SMS template that quotes it.
        if channel != "sms" or _reads(self.env, sms, "subject"):
            subject = self._render(f"{mtype}/subject.{locale}.j2", ctx).strip()
            ctx["subject"] = subject
        html: str | None = None
        if channel == "email":
            body = self._render(f"{mtype}/email.{locale}.txt.j2", ctx)
            html = self._render(f"{mtype}/email.{locale}.html.j2", ctx, optional=True)
        elif channel == "sms":
            body = self._sms(sms, ctx, locale)
        else:
            body = self._render(f"{mtype}/{channel}.{locale}.j2", ctx)
        return RenderedMessage(
            message_type=mtype,
            category=self.policy.category_of(mtype),
            channel=channel,
            locale=locale,
            subject=subject if channel != "sms" else None,
            body_text=body.strip() + ("\n" if channel == "email" else ""),
            body_html=html,
            templates_version=self.policy.version,
        )

    def _sms(self, name: str, ctx: dict[str, Any], locale: str) -> str:
        """One SMS line within the policy's length for ``locale``: when too long, the main
        reason loses its figure, then the SMS loses the main reason (the app and e-mail
        carry every reason). Still too long: the template is at fault, and says so."""
        limit = self.policy.limit_notices.sms_limit(locale)
        full = ctx.get("main_reason") or ""
        body = ""
        # A template that does not read the reason renders the same whichever it is given.
        shorter = (without_figure(full), "") if _reads(self.env, name, "main_reason") else ()
        for reason in dict.fromkeys((full, *shorter)):
            # One SMS is one line; template line breaks are for the reader of the file.
            rendered = self._render(name, {**ctx, "main_reason": reason})
            joiner = "" if locale.startswith("zh") else " "  # Chinese needs no space
            body = joiner.join(line.strip() for line in rendered.splitlines() if line.strip())
            if sms_units(body) <= limit:
                return body
        if name.split("/")[0] not in self.policy.limit_notices.sms_length_enforced_for:
            return body
        raise ValueError(
            f"{name}: the SMS runs to {sms_units(body)} characters without its reason, over the "
            f"{limit} that notify.yaml allows for {locale}; shorten the template"
        )

    def _render(self, name: str, ctx: dict[str, Any], optional: bool = False) -> Any:
        try:
            template = self.env.get_template(name)
        except TemplateNotFound:
            if optional:
                return None
            raise FileNotFoundError(
                f"template {name} not found under policies/templates; add it for this "
                "message type, channel and locale"
            ) from None
        return template.render(ctx)


def compose_notice(
    decision: LimitChangeNotice | dict[str, Any],
    customer_prefs: ContactPrefs | None = None,
    locale: str | None = None,
    *,
    channel: str | None = None,
    composer: Composer | None = None,
) -> RenderedMessage:
    """Render ``decision`` for one channel (default: the customer's first preferred one) in
    ``locale`` (default: the customer's language, else zh-CN)."""
    composer = composer or Composer()
    notice = as_notice(decision)
    prefs = customer_prefs or ContactPrefs()
    channels = prefs.channels_for(composer.policy, notice.message_type)
    chosen = channel or (channels[0] if channels else "sms")
    return composer.render(notice, chosen, locale or prefs.locale or DEFAULT_LOCALE)


@lru_cache(maxsize=256)
def _reads(env: Environment, name: str, variable: str) -> bool:
    """Whether template ``name`` may read ``variable``: it names it, or it takes in another
    template (which might), or it is not there."""
    assert env.loader is not None
    try:
        source, _, _ = env.loader.get_source(env, name)
    except TemplateNotFound:
        return True  # rendered as before, to fail as before
    tree = env.parse(source)
    if any(tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends))):
        return True
    return variable in meta.find_undeclared_variables(tree)


@lru_cache(maxsize=1)
def default_composer() -> Composer:
    """The composer of the shipped notify policy and templates, built once per process."""
    return Composer()
