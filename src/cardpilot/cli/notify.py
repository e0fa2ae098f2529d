"""``cardpilot notify``: preview, dispatch (one pass), worker (long-running), status, queue."""

from __future__ import annotations

import datetime as dt
import json
import signal
import time
from pathlib import Path
from typing import Any

import typer

from cardpilot.cli import app
from cardpilot.cli.common import DATABASE_OPTION, open_engine
from cardpilot.cli.output import JSON_OPTION, console, err_console, fail, print_json, titled_table
from cardpilot.config import get_settings
from cardpilot.domain.money import MoneyError, to_minor

notify_app = typer.Typer(
    help="Tell customers: preview notices, deliver the outbox, show its state.",
    no_args_is_help=True,
)
app.add_typer(notify_app, name="notify")

CHANNELS = ("sms", "app", "email")


def _dispatcher(
    database: str | None,
    batch_size: int,
    lease_seconds: float | None,
    channel: list[str] | None,
    window: int | None = None,
) -> Any:
    from cardpilot.cli.privacy import checked_cipher
    from cardpilot.notify.channels.factory import channels_from_settings
    from cardpilot.notify.dispatch import Dispatcher
    from cardpilot.notify.settings import NotifySettings

    settings = get_settings()
    engine = open_engine(database)
    notify = NotifySettings()
    cipher = checked_cipher(engine)
    try:
        channels = channels_from_settings(settings, notify)
    except ValueError as exc:
        raise fail(str(exc)) from None
    return Dispatcher(
        engine,
        channels,
        cipher,
        batch_size=batch_size,
        window=window or notify.dispatch_window,
        lease_seconds=lease_seconds,
        only_channels=channel or None,
    )


BATCH_OPTION = typer.Option(500, "--batch-size", min=1, help="Messages claimed per batch.")
LEASE_OPTION = typer.Option(
    None, "--lease-seconds", help="How long a claim holds (default: notify.yaml lease_seconds)."
)
CHANNEL_OPTION = typer.Option(None, "--channel", help="Only this channel (repeatable).")
WINDOW_OPTION = typer.Option(
    None,
    "--window",
    min=1,
    help="Most messages sent and not yet recorded: what a kill can send twice"
    " (default: CARDPILOT_DISPATCH_WINDOW, else 64).",
)


@notify_app.command()
def dispatch(
    database: str | None = DATABASE_OPTION,
    batch_size: int = BATCH_OPTION,
    lease_seconds: float | None = LEASE_OPTION,
    channel: list[str] | None = CHANNEL_OPTION,
    window: int | None = WINDOW_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """One pass: deliver every message due now, then exit."""
    dispatcher = _dispatcher(database, batch_size, lease_seconds, channel, window)
    started = time.perf_counter()
    try:
        report = dispatcher.run_once()
    finally:
        dispatcher.close()
    payload = report.as_dict() | {"seconds": round(time.perf_counter() - started, 3)}
    if as_json:
        print_json("notify dispatch", payload)
    else:
        console.print(
            f"sent {report.sent:,}, to retry {report.retried:,}, dead {report.dead:,}, "
            f"waiting (quiet hours / cap) {report.held:,} in {payload['seconds']} s"
        )


@notify_app.command()
def worker(
    database: str | None = DATABASE_OPTION,
    batch_size: int = BATCH_OPTION,
    lease_seconds: float | None = LEASE_OPTION,
    channel: list[str] | None = CHANNEL_OPTION,
    window: int | None = WINDOW_OPTION,
    poll_seconds: float = typer.Option(1.0, "--poll-seconds", help="Sleep when nothing is due."),
) -> None:
    """Long-running: deliver messages as they come due until SIGTERM or Ctrl-C."""
    dispatcher = _dispatcher(database, batch_size, lease_seconds, channel, window)
    stop = {"now": False}

    def _stop(_signum: int, _frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    err_console.print(f"notify worker {dispatcher.worker_id} running; SIGTERM or Ctrl-C to stop")
    try:
        report = dispatcher.run_forever(poll_seconds, should_stop=lambda: stop["now"])
    finally:
        dispatcher.close()
    err_console.print(f"stopped: {report.as_dict()}")


@notify_app.command()
def status(database: str | None = DATABASE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Messages per state and channel."""
    from cardpilot.notify.dispatch import outbox_status

    result = outbox_status(open_engine(database))
    if as_json:
        print_json("notify status", result)
        return

    table = titled_table("state", *CHANNELS, "total")
    for state in ("queued", "waiting", "sending", "sent", "dead"):
        row = result["states"].get(state, {})
        table.add_row(state, *(f"{row.get(c, 0):,}" for c in CHANNELS), f"{sum(row.values()):,}")
    console.print(table)


@notify_app.command()
def queue(
    database: str | None = DATABASE_OPTION,
    cycle: str | None = typer.Option(None, "--cycle", help="Only this review cycle."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Queue the notices of stored limit-review decisions that changed a limit (idempotent)."""
    from cardpilot.notify.outbox import enqueue_notices
    from cardpilot.notify.review import has_decisions, stored_limit_notices
    from cardpilot.store.db import unit_of_work

    engine = open_engine(database)
    with unit_of_work(engine) as session:
        if not has_decisions(session):
            raise fail("no limit decisions in the store yet; run the limit review first")
        keys = enqueue_notices(session, list(stored_limit_notices(session, cycle_id=cycle)))
    if as_json:
        print_json("notify queue", {"offered": len(keys)})
    else:
        console.print(
            f"queued the notices of the stored decisions ({len(keys):,} messages offered)"
        )


@notify_app.command()
def preview(
    account: str = typer.Option(..., "--account", help="The account to write to."),
    channel: str = typer.Option("all", "--channel", help="sms, app, email or all."),
    locale: str | None = typer.Option(None, "--locale", help="zh-CN or en (default: customer's)."),
    decision_file: Path | None = typer.Option(
        None, "--decision", help="A decision as JSON (default: the account's latest stored one)."
    ),
    new_limit: str | None = typer.Option(
        None,
        "--new-limit",
        help="With no stored decision: preview a change to this limit, in major units.",
    ),
    html: bool = typer.Option(False, "--html", help="Show the e-mail's HTML part too."),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Render the notice an account would get, on every channel, without sending anything."""
    from cardpilot.notify.compose import Composer

    channels = CHANNELS if channel == "all" else (channel,)
    for ch in channels:
        if ch not in CHANNELS:
            raise fail(f"--channel {ch}: expected one of sms, app, email or all")
    try:
        new_limit_minor = None if new_limit is None else to_minor(new_limit)
    except MoneyError as exc:
        raise fail(f"--new-limit {new_limit!r}: {exc}; give major units like 80000") from None
    notice, prefs_locale = _preview_notice(database, account, decision_file, new_limit_minor)
    composer = Composer()
    loc = locale or prefs_locale or get_settings().locale
    messages = [composer.render(notice, ch, loc) for ch in channels]
    if as_json:
        print_json(
            "notify preview",
            {
                "account_id": account,
                "currency": notice.currency,
                "old_limit_minor": notice.old_limit_minor,
                "new_limit_minor": notice.new_limit_minor,
                "decision_id": notice.decision_id,
                "messages": [
                    {
                        "channel": ch,
                        "locale": msg.locale,
                        "message_type": msg.message_type,
                        "templates_version": msg.templates_version,
                        "subject": msg.subject,
                        "body_text": msg.body_text,
                        "body_html": msg.body_html if html else None,
                    }
                    for ch, msg in zip(channels, messages, strict=True)
                ],
            },
        )
        return
    for ch, msg in zip(channels, messages, strict=True):
        console.rule(f"[bold]{ch} · {msg.locale} · {msg.message_type} ({msg.templates_version})")
        if msg.subject:
            console.print(f"[bold]{msg.subject}[/]")
        console.print(msg.body_text, markup=False, highlight=False)
        if ch == "email" and html and msg.body_html:
            console.print(msg.body_html, markup=False, highlight=False)


def _preview_notice(
    database: str | None, account: str, decision_file: Path | None, new_limit_minor: int | None
) -> tuple[Any, str | None]:
    """The notice ``notify preview`` renders (from ``--decision``, the account's latest stored
    decision, or a sample change to ``new_limit_minor``) and the customer's locale."""
    from sqlalchemy import select

    from cardpilot.notify.notice import LimitChangeNotice, NoticeReason
    from cardpilot.notify.prefs import load_prefs
    from cardpilot.notify.review import stored_limit_notices
    from cardpilot.store.models import Account

    engine = open_engine(database)
    with engine.connect() as conn:
        acc = conn.execute(
            select(Account.customer_id, Account.credit_limit_minor, Account.currency).where(
                Account.account_id == account
            )
        ).first()
        if acc is None:
            raise fail(f"--account {account}: no such account in the store")
        prefs = load_prefs(conn, [acc[0]]).get(acc[0])
        notice: LimitChangeNotice | None = None
        if decision_file is not None:
            data = json.loads(decision_file.read_text(encoding="utf-8"))
            data.setdefault("account_id", account)
            data.setdefault("customer_id", acc[0])
            notice = LimitChangeNotice.from_mapping(data)
        else:
            stored = list(stored_limit_notices(conn, account_id=account, include_keeps=True))
            notice = stored[-1] if stored else None
    if notice is None:
        notice = LimitChangeNotice(
            decision_id="preview",
            account_id=account,
            customer_id=acc[0],
            old_limit_minor=acc[1],
            new_limit_minor=acc[1] if new_limit_minor is None else new_limit_minor,
            currency=acc[2] or "CNY",
            effective_date=dt.date.today(),
            reasons=(
                NoticeReason(
                    "PREVIEW",
                    "（示例原因：此账户尚无额度评估结果。）",
                    "(Sample reason: this account has no limit review decision yet.)",
                ),
            ),
            policy_version="preview",
        )
    return notice, prefs.locale if prefs else None


def demo_step(database: str | None = None, show: int = 3) -> None:
    """``make demo``'s notice step: queue the stored review decisions' notices, dispatch them
    (to the outbox folder unless channel URLs are set) and show a few, one per channel."""
    from sqlalchemy import select

    from cardpilot.notify.dispatch import outbox_status
    from cardpilot.notify.outbox import enqueue_notices
    from cardpilot.notify.review import has_decisions, stored_limit_notices
    from cardpilot.store.db import unit_of_work
    from cardpilot.store.notify_models import OutboxMessage

    engine = open_engine(database)
    with unit_of_work(engine) as session:
        if not has_decisions(session):
            console.print("  no limit decisions stored yet: nothing to tell")
            return
        offered = enqueue_notices(session, list(stored_limit_notices(session)))
    dispatcher = _dispatcher(database, 1000, None, None)
    try:
        report = dispatcher.run_once()
    finally:
        dispatcher.close()
    totals = outbox_status(engine)["totals"]
    console.print(
        f"  queued {len(offered):,} messages for the limit changes; sent {report.sent:,} "
        f"({', '.join(f'{c} {n:,}' for c, n in sorted(report.by_channel.items()))}), "
        f"waiting for quiet hours to end {totals.get('waiting', 0):,}"
    )
    with engine.connect() as conn:
        for ch in CHANNELS[:show]:
            row = conn.execute(
                select(
                    OutboxMessage.locale,
                    OutboxMessage.subject,
                    OutboxMessage.body_text,
                    OutboxMessage.state,
                )
                .where(OutboxMessage.channel == ch)
                .order_by(OutboxMessage.id)
                .limit(1)
            ).first()
            if row is None:
                continue
            console.rule(f"[bold]{ch} · {row.locale} · {row.state}")
            if row.subject:
                console.print(f"[bold]{row.subject}[/]")
            console.print(row.body_text.strip(), markup=False, highlight=False)
    folder = get_settings().home / "outbox"
    if folder.exists():
        console.print(f"  (messages written to {folder} unless CARDPILOT_*_URL channels are set)")
