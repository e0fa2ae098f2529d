"""``cardpilot demo``'s event step: a month of spending and repayment events through the broker,
and the interventions the early-warning rules give for them.

The early-warning model is trained on the demo's store and registered (as ``warn train
--format store`` does), ``warn run`` scores every account as of the review's day, and a
synthetic month of events (``events.synthetic``: duplicates, swapped neighbours, held-back and
malformed lines included) for the highest-scored accounts is published to a stream of the
demo's own on NATS JetStream and consumed into the store with the shipped ``warning.yaml``.
Without a reachable NATS server the step is skipped and says why.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from cardpilot.cli.output import console

DEMO_ACCOUNTS = 200  # accounts the demo's month of events is for
EVENTS_PER_ACCOUNT = 20


def nats_reachable(url: str, timeout: float = 2.0) -> bool:
    parts = urlparse(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout):
            return True
    except OSError:
        return False


def _demo_broker() -> Any:
    from cardpilot.stream.broker import Broker

    tag = uuid.uuid4().hex[:8]
    return Broker.from_env(
        stream=f"CARDPILOT_DEMO_{tag}".upper(),
        prefix=f"cardpilot.demo.{tag}",
        durable=f"cardpilot-demo-{tag}",
    )


def _warning_model(url: str) -> Any:
    """The early-warning model trained on the store, registered and made the champion."""
    from cardpilot.config import get_settings
    from cardpilot.scoring.gbm import GbmParams
    from cardpilot.scoring.registry import Registry, save_model_dir
    from cardpilot.scoring.training import train_models
    from cardpilot.store.db import make_engine
    from cardpilot.store.frames import read_portfolio_frames
    from cardpilot.warning.training import warning_training_data

    protected = ["sex", "marital_status"]
    db = make_engine(url)
    try:
        frames = read_portfolio_frames(db)
    finally:
        db.dispose()
    td = warning_training_data(frames, frames.labels, protected=protected)
    # Two folds and one seed: the shipped settings' CV is most of a minute here, and the demo
    # shows the mechanism, not the model's best AUC (``warn train`` trains it in full).
    quick = GbmParams(folds=2, n_seeds=1)
    trained = train_models(td, protected=protected, gbm_params=quick, source="demo")
    home = get_settings().home
    registry = Registry(home)
    for family, t in trained.items():
        # Beside the demo's behaviour models, never over them: the review and the simulation
        # go on scoring with those.
        target = home / "demo-warning-models" / family
        save_model_dir(t.model, t.metadata, target)
        registry.register(target)
        registry.promote(t.metadata["version"])
        auc = t.metadata["metrics"]["test_auc"]
        console.print(f"  {family} {t.metadata['version']}: test AUC {auc:.3f}")
    return trained["gbm"].model if "gbm" in trained else next(iter(trained.values())).model


def _month_after(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def demo_events(url: str, as_of: dt.date) -> None:
    """Score, replay a month of events through the broker, show what the rules did."""
    from cardpilot.stream.broker import Broker

    console.rule("[bold]Events: a month of spending and repayments through NATS JetStream")
    broker = Broker.from_env()
    if not nats_reachable(broker.url):
        console.print(
            f"  skipped: NATS is not reachable at {broker.url}; start nats-server with "
            "JetStream (nats-server -js) or set CARDPILOT_NATS_URL to see the event replay"
        )
        return
    from cardpilot.jobs.warning import run_warning

    model = _warning_model(url)
    scored = run_warning(url, as_of=as_of, model=model)
    console.print(
        f"  early warning as of {as_of}: {scored.scored:,} accounts scored, "
        f"{scored.interventions:,} interventions"
    )
    _replay(url, _demo_broker(), _month_after(as_of), as_of, model)


def _run_async(main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """``asyncio.run(main())``, on a thread of its own when this thread already runs an event
    loop (the demo called from a notebook, or from a test beside a browser driver)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


def _replay(url: str, broker: Any, month: dt.date, scored_on: dt.date, model: Any) -> None:
    from cardpilot.config import get_settings
    from cardpilot.events.policy import load_events_policy
    from cardpilot.events.synthetic import Faults, synthetic_month, with_faults
    from cardpilot.store.db import make_engine
    from cardpilot.store.warning_interventions import interventions_since, watch_list
    from cardpilot.stream.consumer import ConsumeOptions, consume
    from cardpilot.stream.online_scores import OnlineScorer
    from cardpilot.stream.publish import publish_lines
    from cardpilot.warning.policy import load_warning_policy

    db = make_engine(url)
    try:
        top = [r["account_id"] for r in watch_list(db, scored_on, DEMO_ACCOUNTS)]
        events = synthetic_month(top, events_per_account=EVENTS_PER_ACCOUNT, month=month)
        lines = with_faults(events, Faults())
        options = ConsumeOptions(batch=1000, fetch_timeout_s=0.5, idle_exit_s=1.5)
        zone = ZoneInfo(get_settings().timezone)

        async def run() -> Any:
            await publish_lines(broker, iter(lines))
            stop = asyncio.Event()
            policy, warning = load_events_policy(), load_warning_policy()
            try:
                # The model just trained scores every event's account online.
                scorer = OnlineScorer(model)
                return await consume(
                    db, broker, policy, zone, options, stop, warning=warning, scorer=scorer
                )
            finally:
                await _delete_streams(broker)

        counts = _run_async(run)
        console.print(
            f"  {month:%Y-%m}: {counts.messages:,} events for {len(top):,} accounts · "
            f"{counts.applied:,} applied · {counts.duplicates:,} duplicates · "
            f"{counts.dead:,} dead-lettered · {counts.triggers_fired:,} interventions · "
            f"{counts.seconds:.1f} s"
        )
        for row in interventions_since(db, month, 5):
            console.print(
                f"  {row['as_of']}  {row['account_id']}  {row['rule']:<22} "
                f"{row['intervention']:<18} {row['reason']}"
            )
    finally:
        db.dispose()


async def _delete_streams(broker: Any) -> None:
    import contextlib

    from cardpilot.stream.broker import connect

    nc, js = await connect(broker)
    try:
        for name in (broker.stream, broker.dead_stream):
            with contextlib.suppress(Exception):  # never made
                await js.delete_stream(name)
    finally:
        await nc.close()
