"""Store models of customer notices: the transactional outbox, its delivery log, and the
customer's contact preferences.

The outbox row is written in the same transaction as the decision it reports (see
``cardpilot.notify.outbox.enqueue_notice``), so a decision is never committed without its
notice and a notice never goes out for a decision that was rolled back.

No plaintext contact data lives here: the recipient's phone number and e-mail address stay
encrypted in ``customers`` and are decrypted by the dispatcher only at send time. The rendered
subject and body are kept (they are what the customer was told, an audit record); templates
never put the phone, e-mail, name or national ID in a body.

``message_key`` is the idempotency key: unique here, and carried in the message itself
(e-mail ``Message-ID``, an SMPP optional parameter, the HTTP ``Idempotency-Key`` header), so a
receiver can drop the duplicate that a resend after a crash may produce.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from cardpilot.store.models import Base

_ID = BigInteger().with_variant(Integer, "sqlite")

# queued: ready at next_attempt_at (first try or a retry after backoff);
# waiting: held by the customer's manners (quiet hours, frequency cap) until next_attempt_at;
# sending: claimed by a dispatcher until lease_until; sent: the channel accepted it;
# dead: gave up after the policy's number of attempts (or a permanent error), last_error says why.
OUTBOX_STATES = ("queued", "waiting", "sending", "sent", "dead")
CHANNELS = ("email", "sms", "app")
CATEGORIES = ("mandatory", "service", "marketing", "education", "education_opt_in")


class OutboxMessage(Base):
    """One message to one customer on one channel."""

    __tablename__ = "notify_outbox"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    message_key: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[str] = mapped_column(String(64), ForeignKey("customers.customer_id"))
    account_id: Mapped[str | None] = mapped_column(String(64))
    decision_ref: Mapped[str | None] = mapped_column(String(64))
    message_type: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))
    locale: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    policy_version: Mapped[str | None] = mapped_column(String(64))
    templates_version: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(8), default="queued", server_default="queued")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_ref: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "state IN ('queued', 'waiting', 'sending', 'sent', 'dead')", name="state_known"
        ),
        CheckConstraint("channel IN ('email', 'sms', 'app')", name="channel_known"),
        Index("ix_notify_outbox_state_next", "state", "next_attempt_at"),
        Index("ix_notify_outbox_customer_sent", "customer_id", "sent_at"),
    )


class DeliveryAttempt(Base):
    """The delivery log: one row per attempt (or hold) of an outbox message."""

    __tablename__ = "notify_deliveries"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    message_id: Mapped[int] = mapped_column(_ID, ForeignKey("notify_outbox.id"))
    attempt: Mapped[int] = mapped_column(SmallInteger)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(8))  # sent | retry | dead | held
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_notify_deliveries_message_id", "message_id"),)


class ContactPreference(Base):
    """How a customer wants to be told; absent means the policy's defaults."""

    __tablename__ = "customer_contact_prefs"

    customer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("customers.customer_id"), primary_key=True
    )
    channels: Mapped[str | None] = mapped_column(String(32))  # "app,sms", most preferred first
    locale: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(40))
    # Opt-outs cover optional messages only; mandatory notices always go (see docs).
    marketing_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    education_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "21:00"; null: policy default
    quiet_end: Mapped[str | None] = mapped_column(String(5))  # "08:00"
    max_per_day: Mapped[int | None] = mapped_column(SmallInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
