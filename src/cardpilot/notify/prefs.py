"""Customer manners: preferred channels and language, opt-outs, quiet hours, frequency cap.

Mandatory notices (a limit change the card contract requires the issuer to tell) cannot be
opted out of and are not held by the frequency cap; they do wait out quiet hours on SMS and
in-app, which costs a few hours and spares a 23:00 text message.

The ``education_opt_in`` category is the reverse of an opt-out: its messages (how interest and
fees are computed, what paying only the minimum costs) go only to customers who opted in
(``contact_opt_ins``, topic ``education``) and have not opted out of education.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from cardpilot.notify.policy import NotifyPolicy, parse_hhmm
from cardpilot.store.models import Customer
from cardpilot.store.notify_models import ContactPreference

DEFAULT_TIMEZONE = "Asia/Shanghai"
OPT_IN_CATEGORY = "education_opt_in"  # sent only with the customer's opt-in
EDUCATION_TOPIC = "education"  # contact_opt_ins.topic of that opt-in


@dataclass(frozen=True, slots=True)
class ContactPrefs:
    channels: tuple[str, ...] | None = None
    locale: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    marketing_opt_out: bool = False
    education_opt_out: bool = False
    quiet_start: str | None = None
    quiet_end: str | None = None
    max_per_day: int | None = None
    education_opt_in: bool = False

    def channels_for(self, policy: NotifyPolicy, message_type: str) -> tuple[str, ...]:
        mt = policy.message_types.get(message_type)
        allowed = mt.channels if mt else policy.default_channels
        if self.channels:
            chosen = tuple(c for c in self.channels if c in allowed)
            if chosen:
                return chosen
        return tuple(allowed)

    def accepts(self, category: str) -> bool:
        """Opt-outs apply to marketing and education only, never to mandatory notices."""
        if category == "marketing":
            return not self.marketing_opt_out
        if category == "education":
            return not self.education_opt_out
        if category == OPT_IN_CATEGORY:
            return self.education_opt_in and not self.education_opt_out
        return True

    def quiet_until(
        self, now: dt.datetime, channel: str, policy: NotifyPolicy
    ) -> dt.datetime | None:
        """When quiet hours end (UTC) if ``now`` falls inside them for ``channel``, else None."""
        if channel not in policy.quiet_hours.channels:
            return None
        start = parse_hhmm(self.quiet_start or policy.quiet_hours.start)
        end = parse_hhmm(self.quiet_end or policy.quiet_hours.end)
        if start == end:
            return None
        zone = _zone(self.timezone)
        local = now.astimezone(zone)
        t = local.time().replace(tzinfo=None)
        # A span like 21:00–08:00 crosses midnight.
        inside = start <= t < end if start < end else t >= start or t < end
        if not inside:
            return None
        end_day = local.date() if t < end else local.date() + dt.timedelta(days=1)
        resume = dt.datetime.combine(end_day, end, tzinfo=zone)
        return resume.astimezone(dt.UTC)

    def cap(self, policy: NotifyPolicy) -> int:
        return self.max_per_day or policy.frequency_cap.max_messages


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def load_prefs(db: Session | Connection, customer_ids: Iterable[str]) -> dict[str, ContactPrefs]:
    """Preferences of ``customer_ids`` (customer locale and time zone when none are set)."""
    ids = list(dict.fromkeys(customer_ids))
    out: dict[str, ContactPrefs] = {}
    # A store migrated before 0007 has no opt-in table: nobody has opted in.
    with_opt_ins = bool(ids) and _has_opt_ins(db)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        opted = _opted_in(db, chunk) if with_opt_ins else set()
        rows = db.execute(
            select(
                Customer.customer_id,
                Customer.locale,
                Customer.timezone,
                ContactPreference.channels,
                ContactPreference.locale,
                ContactPreference.timezone,
                ContactPreference.marketing_opt_out,
                ContactPreference.education_opt_out,
                ContactPreference.quiet_start,
                ContactPreference.quiet_end,
                ContactPreference.max_per_day,
            )
            .outerjoin(ContactPreference, ContactPreference.customer_id == Customer.customer_id)
            .where(Customer.customer_id.in_(chunk))
        ).all()
        for r in rows:
            out[r[0]] = ContactPrefs(
                channels=tuple(c.strip() for c in r[3].split(",") if c.strip()) if r[3] else None,
                locale=r[4] or r[1],
                timezone=r[5] or r[2] or DEFAULT_TIMEZONE,
                marketing_opt_out=bool(r[6]),
                education_opt_out=bool(r[7]),
                quiet_start=r[8],
                quiet_end=r[9],
                max_per_day=r[10],
                education_opt_in=r[0] in opted,
            )
    return out


def _has_opt_ins(db: Session | Connection) -> bool:
    from sqlalchemy import inspect

    bind = db.connection() if isinstance(db, Session) else db
    return bool(inspect(bind).has_table("contact_opt_ins"))


def _opted_in(db: Session | Connection, customer_ids: list[str]) -> set[str]:
    """Customers of ``customer_ids`` opted in to education messages."""
    from cardpilot.store.overdue_models import ContactOptIn

    rows = db.execute(
        select(ContactOptIn.customer_id).where(
            ContactOptIn.customer_id.in_(customer_ids),
            ContactOptIn.topic == EDUCATION_TOPIC,
            ContactOptIn.opted_in.is_(True),
        )
    )
    return {r[0] for r in rows}
