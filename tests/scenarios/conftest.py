"""The real UCI data run as a bank runs cardpilot, month after month: one import shared by every
scenario (a copy of the store each), and the scenarios the account-over-time tests read.

- ``review_cycles``: review as of 2005-10-01, again as of 2006-01-01 with no new statement,
  then one more statement for 100 accounts (tests/fixtures/uci-further-cycle) and a review.
- ``plans_scenario``: treat as of 2005-10-01; accounts 10117 and 10018 on six-month 和谐还款
  plans paid early twice; plans advanced and the portfolio treated again on 2005-12-05;
  10117 pays its third instalment, 10018 does not and breaks on 2006-01-06; 10018 asks for a
  new plan on 2006-01-10 and again once its first waiver's window has passed.
- ``watch_scenario``: a review as of 2005-07-01 (the April–June statements) under the shipped
  ``uci-twd`` policy, whose increases start watches, then the watch check of July–September.
- ``uci_store_copy`` (tests/conftest.py): a fresh copy of the imported store (the reminder tests).

Skipped when ../shared/data is absent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from uci_scenarios import (
    BROKEN_ON,
    FIRST,
    FURTHER_CYCLE,
    MODEL,
    RETREAT,
    SHIPPED_POLICY,
    WATCH_CHECK,
    WATCH_REVIEW,
    count_rows,
    pay,
    pay_instalments,
    review_at,
    run_cli,
)


@pytest.fixture(scope="session")
def review_cycles(uci_store_copy: Callable[[str], tuple[str, Path]]) -> dict[str, Any]:
    from cardpilot.store.db import make_engine
    from cardpilot.store.limit_decisions import read_decisions

    url, home = uci_store_copy("cycles")
    env = {"CARDPILOT_HOME": str(home)}
    runs: dict[str, Any] = {"url": url, "first": review_at("2005-10-01", url, env)}
    runs["history_after_first"] = count_rows(url, "limit_history")
    runs["again"] = review_at("2006-01-01", url, env)
    runs["history_after_again"] = count_rows(url, "limit_history")
    runs["import"] = run_cli(
        ["import", str(FURTHER_CYCLE), "--format", "generic", "--database", url], env
    )
    runs["further"] = review_at("2006-01-01", url, env)
    engine = make_engine(url)
    try:
        runs["decisions"] = read_decisions(engine)
    finally:
        engine.dispose()
    return runs


@pytest.fixture(scope="session")
def plans_scenario(uci_store_copy: Callable[[str], tuple[str, Path]]) -> Iterator[dict[str, Any]]:
    from cardpilot.jobs.ledger import check_ledger
    from cardpilot.jobs.overdue import treat_overdue
    from cardpilot.jobs.plans import (
        PlanStoreError,
        accept_plan,
        advance_plans,
        offer_plan,
        plan_status,
    )
    from cardpilot.overdue.loading import load_overdue_policy
    from cardpilot.scoring.registry import load_model_dir
    from cardpilot.store.db import make_engine

    url, _home = uci_store_copy("uci-plans")
    policy = load_overdue_policy(SHIPPED_POLICY)
    model = load_model_dir(MODEL)
    out: dict[str, Any] = {"policy": policy}
    out["first"] = treat_overdue(url, model, as_of=FIRST, policy=policy)
    db = make_engine(url)
    out["db"] = db
    for account in ("10117", "10018"):
        plan = offer_plan(db, account, policy, on=FIRST, months=6)
        accept_plan(db, plan.plan_id, on=FIRST + dt.timedelta(days=1))
        out[f"paid-{account}"] = pay_instalments(db, plan, 2)
        out[f"offer-{account}"] = plan
    advance_plans(db, RETREAT)
    out["active-on-retreat"] = {p.account_id: p.status for p in plan_status(db)}
    out["retreat"] = treat_overdue(url, model, as_of=RETREAT, policy=policy)
    out["retreat-again"] = treat_overdue(url, model, as_of=RETREAT, policy=policy)
    third = out["offer-10117"].instalments[2]
    pay(db, "10117", dt.date(2005, 12, 25), third["amount_minor"], "10117-T2")
    advance_plans(db, BROKEN_ON)
    out["after-break"] = {p.account_id: p for p in plan_status(db)}
    try:
        offer_plan(db, "10018", policy, on=dt.date(2006, 1, 10), months=6)
        out["reoffer-january"] = None
    except PlanStoreError as exc:
        out["reoffer-january"] = str(exc)
    out["reoffer-after-window"] = offer_plan(db, "10018", policy, on=dt.date(2006, 10, 25))
    out["ledger-check"] = check_ledger(db)
    yield out
    db.dispose()


@pytest.fixture(scope="session")
def watch_scenario(uci_store_copy: Callable[[str], tuple[str, Path]]) -> dict[str, Any]:
    from cardpilot.jobs.review import review_portfolio
    from cardpilot.policy.loading import load_policy
    from cardpilot.scoring.registry import load_model_dir
    from cardpilot.store.db import make_engine
    from cardpilot.store.watch_actions import read_watch_actions
    from cardpilot.watch.checks import check_watches

    url, _home = uci_store_copy("uci-watch")
    policy = load_policy(SHIPPED_POLICY)
    review = review_portfolio(url, load_model_dir(MODEL), policy=policy, as_of=WATCH_REVIEW)
    engine = make_engine(url)
    try:
        added = check_watches(engine, policy, WATCH_CHECK)
        again = check_watches(engine, policy, WATCH_CHECK)
        actions = read_watch_actions(engine)
        with engine.connect() as conn:
            notices = conn.execute(
                text("SELECT COUNT(*) FROM notify_outbox WHERE message_type = 'watch_notice'")
            ).scalar_one()
    finally:
        engine.dispose()
    return {
        "url": url,
        "policy": policy,
        "review": review,
        "added": added,
        "again": again,
        "actions": actions,
        "watch_notices": int(notices),
    }
