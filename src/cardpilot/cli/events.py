"""``cardpilot events``: publish a file of events to the broker, consume them into the store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cardpilot.cli import app
from cardpilot.cli.common import DATABASE_OPTION, open_engine
from cardpilot.cli.i18n import tr
from cardpilot.cli.output import JSON_OPTION, console, err_console, fail, print_json

if TYPE_CHECKING:
    from cardpilot.stream.broker import Broker
    from cardpilot.stream.consumer import ConsumeCounts
    from cardpilot.stream.online_scores import OnlineScorer

events_app = typer.Typer(
    help="Spending and repayment events on NATS JetStream: publish, consume.",
    no_args_is_help=True,
)
app.add_typer(events_app, name="events")

NATS_OPTION = typer.Option(
    None, "--nats-url", help="NATS server; default CARDPILOT_NATS_URL or nats://127.0.0.1:4222."
)
STREAM_OPTION = typer.Option(
    None, "--stream", help="Event stream name; default CARDPILOT_EVENTS_STREAM or CARDPILOT_EVENTS."
)
SUBJECT_OPTION = typer.Option(
    None,
    "--subject-prefix",
    help="Subjects <prefix>.in (events) and <prefix>.dead (dead letters); "
    "default CARDPILOT_EVENTS_SUBJECT or cardpilot.events.",
)


def _broker(
    url: str | None, stream: str | None, prefix: str | None, durable: str | None = None
) -> Broker:
    from cardpilot.stream.broker import Broker

    return Broker.from_env(url=url, stream=stream, prefix=prefix, durable=durable)


@events_app.command("publish")
def publish(
    file: Path = typer.Argument(..., help="Events as JSON lines (.jsonl) or Parquet (.parquet)."),
    rate: float = typer.Option(
        0.0, "--rate", min=0.0, help="At most this many events a second (0: as fast as possible)."
    ),
    nats_url: str | None = NATS_OPTION,
    stream: str | None = STREAM_OPTION,
    subject_prefix: str | None = SUBJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Publish every event of FILE, in file order (replaying history)."""
    import asyncio

    from cardpilot.stream.broker import BrokerError
    from cardpilot.stream.publish import EventFileError, PublishError, publish_file

    broker = _broker(nats_url, stream, subject_prefix)
    try:
        counts = asyncio.run(publish_file(broker, file, rate))
    except (BrokerError, EventFileError, PublishError) as exc:
        raise fail(str(exc)) from exc
    if as_json:
        print_json("events publish", {"file": str(file), **counts.as_json()})
    else:
        console.print(
            f"published {counts.published:,} events to {broker.subject} in {counts.seconds:.1f} s"
        )


def online_scorer() -> OnlineScorer | None:
    """The registry's early-warning champion as the consumer's scorer; without one, None
    (the rules then read the stored scores), said once on stderr."""
    from cardpilot.config import get_settings
    from cardpilot.jobs.warning import WarnRunError, load_warning_model
    from cardpilot.stream.online_scores import OnlineScorer

    try:
        model = load_warning_model(None, get_settings().home)
    except WarnRunError:
        err_console.print(
            tr(
                "No early-warning model is registered (cardpilot warn train): the online rules "
                "read the scores stored by cardpilot warn run."
            )
        )
        return None
    return OnlineScorer(model)


@events_app.command("consume")
def consume(
    batch: int = typer.Option(1000, "--batch", min=1, max=20_000, help="Events per batch."),
    max_batch: int | None = typer.Option(
        None,
        "--max-batch",
        min=1,
        max=20_000,
        help="With a backlog waiting, a batch takes up to this many; default --batch.",
    ),
    ack_wait: float = typer.Option(
        30.0, "--ack-wait", min=0.5, help="Seconds before an unacknowledged batch is redelivered."
    ),
    idle_exit: float | None = typer.Option(
        None, "--idle-exit", help="Stop after this many seconds with no event (replays, tests)."
    ),
    durable: str | None = typer.Option(
        None, "--durable", help="Durable consumer name; default cardpilot-intake."
    ),
    policy: Path | None = typer.Option(
        None, "--policy", help="events.yaml (late window, spending months); default shipped."
    ),
    warning_policy: Path | None = typer.Option(
        None, "--warning-policy", help="warning.yaml (the triggers); default the shipped one."
    ),
    in_process: bool = typer.Option(
        False,
        "--in-process",
        help="Decide and write the batches on a thread of this process (one core) instead of a "
        "child process of their own (a second core).",
    ),
    nats_url: str | None = NATS_OPTION,
    stream: str | None = STREAM_OPTION,
    subject_prefix: str | None = SUBJECT_OPTION,
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Consume events into the ledger and the running features until SIGTERM (the batches in
    hand are finished and acknowledged, then exit 0).

    Two processes: this one talks to the broker; a child it starts decides and writes the
    batches (the store's work) and dies with it."""
    from zoneinfo import ZoneInfo

    from cardpilot.config import get_settings
    from cardpilot.events.policy import EventsPolicyError, load_events_policy
    from cardpilot.stream.broker import BrokerError
    from cardpilot.stream.consumer import ConsumeOptions, run_consumer
    from cardpilot.stream.intake_process import IntakeProcessError
    from cardpilot.warning.policy import WarningPolicyError, load_warning_policy

    try:
        rules = load_events_policy(policy)
        warning = load_warning_policy(warning_policy)
    except (EventsPolicyError, WarningPolicyError) as exc:
        raise fail(str(exc)) from exc
    options = ConsumeOptions(
        batch=batch,
        max_batch=max_batch,
        ack_wait_s=ack_wait,
        idle_exit_s=idle_exit,
        intake_process=not in_process,
    )
    broker = _broker(nats_url, stream, subject_prefix, durable)
    db = open_engine(database)
    try:
        zone = ZoneInfo(get_settings().timezone)
        scorer = online_scorer()
        counts = run_consumer(db, broker, rules, zone, options, warning=warning, scorer=scorer)
    except (BrokerError, IntakeProcessError) as exc:
        raise fail(str(exc)) from exc
    finally:
        db.dispose()
    versions = {
        "policy_version": rules.recorded_version,
        "warning_policy_version": warning.version,
        "warning_model_version": scorer.version if scorer is not None else None,
    }
    _print_consumed(counts, versions, as_json)


def _print_consumed(counts: ConsumeCounts, versions: dict[str, str | None], as_json: bool) -> None:
    if as_json:
        print_json("events consume", {**versions, **counts.as_json()})
        return
    console.print(
        f"consumed {counts.messages:,} events · {counts.applied:,} applied · "
        f"{counts.duplicates:,} duplicates · {counts.dead:,} dead-lettered · "
        f"{counts.batches:,} batches · {counts.seconds:.1f} s"
    )
