"""和谐还款 through the service: an offer to an eligible overdue account, refused to a high-risk
one, accepted or declined once by the customer, each new step audited with who took it, and
the same plan as ``cardpilot plan status`` reads it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from routes_support import ANSWER_ON, OFFER_ON, offerable_accounts, treat_overdue_accounts
from service_support import Service
from sqlalchemy import text
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.store.audit import iter_records

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def treated(service: Service) -> Service:
    treat_overdue_accounts(service.database_url)
    return service


def _post(service: Service, path: str, role: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{service.url}{path}", json=body, headers=service.headers[role], timeout=60)


def _offer(service: Service, account: str, role: str = "agent") -> httpx.Response:
    body = {"months": 6, "on": OFFER_ON.isoformat()}
    return _post(service, f"/v1/accounts/{account}/plans", role, body)


_TAKEN: set[str] = set()


def _new_plan(service: Service) -> dict[str, Any]:
    """A plan the route offers to an account no other test of the module has used."""
    for account in offerable_accounts(service.state.db):  # type: ignore[attr-defined]
        if account in _TAKEN:
            continue
        _TAKEN.add(account)
        reply = _offer(service, account)
        if reply.status_code == 201:
            return dict(reply.json())
        assert reply.status_code == 409, reply.text  # a balance under the plan's minimum
    raise AssertionError("no account left to offer a plan to")


def _audit(service: Service, action: str, plan_id: str) -> list[Any]:
    return [
        r
        for r in iter_records(service.state.db)  # type: ignore[attr-defined]
        if r.action == action and r.subject == f"plan:{plan_id}"
    ]


def test_an_agent_offers_a_plan_to_an_eligible_account_once_a_day_and_the_offer_is_audited(
    treated,
):
    plan = _new_plan(treated)
    assert plan["status"] == "offered"
    assert (plan["kind"], plan["months"], plan["offered_on"]) == (
        "equal_principal",
        6,
        OFFER_ON.isoformat(),
    )
    assert plan["policy_version"] == treated.state.overdue_policy.version
    assert len(plan["instalments"]) == 6
    (record,) = _audit(treated, "plan.offer", plan["plan_id"])
    assert record.actor == "user:agent-1"
    again = _offer(treated, plan["account_id"])
    assert again.status_code == 200
    assert again.json()["plan_id"] == plan["plan_id"]
    assert len(_audit(treated, "plan.offer", plan["plan_id"])) == 1


def test_a_high_risk_account_is_refused_a_plan_with_the_reason(treated):
    with treated.state.db.connect() as conn:
        account = conn.execute(
            text(
                "SELECT account_id FROM overdue_treatments WHERE risk_segment = 'high_risk'"
                " ORDER BY account_id LIMIT 1"
            )
        ).scalar_one()
    reply = _offer(treated, account)
    assert reply.status_code == 409
    assert reply.headers["content-type"] == PROBLEM
    assert "high_risk" in reply.json()["detail"]
    assert treated.state.db is not None
    assert (
        httpx.get(
            f"{treated.url}/v1/accounts/{account}/plans", headers=treated.headers["agent"]
        ).json()["plans"]
        == []
    )


def test_an_account_not_in_the_store_is_not_found(treated):
    reply = _offer(treated, "NO-SUCH-ACCOUNT")
    assert reply.status_code == 404
    assert reply.headers["content-type"] == PROBLEM


def test_the_customer_accepts_once_through_the_app_and_the_acceptance_is_audited(treated):
    plan = _new_plan(treated)
    path = f"/v1/plans/{plan['plan_id']}/accept"
    accepted = _post(treated, path, "system", {"on": ANSWER_ON.isoformat()})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    again = _post(treated, path, "system", {"on": ANSWER_ON.isoformat()})
    assert again.status_code == 200
    (record,) = _audit(treated, "plan.accepted", plan["plan_id"])
    assert record.actor.startswith("key:")
    payload = record.as_json()["payload"]
    assert (payload["outcome"], payload["source"]) == ("transition", "api")


def test_a_declined_plan_cannot_be_accepted_afterwards(treated):
    plan = _new_plan(treated)
    declined = _post(
        treated, f"/v1/plans/{plan['plan_id']}/decline", "agent", {"on": ANSWER_ON.isoformat()}
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined"
    next_day = (ANSWER_ON + dt.timedelta(days=1)).isoformat()
    late = _post(treated, f"/v1/plans/{plan['plan_id']}/accept", "agent", {"on": next_day})
    assert late.status_code == 409
    assert late.headers["content-type"] == PROBLEM
    assert "accepted refused" in late.json()["detail"]


def test_a_plan_reads_as_cardpilot_plan_status_reads_it(treated):
    plan = _new_plan(treated)
    served = httpx.get(
        f"{treated.url}/v1/plans/{plan['plan_id']}", headers=treated.headers["auditor"]
    ).json()
    result = CliRunner().invoke(
        app,
        ["plan", "status", "--plan", plan["plan_id"], "--database", treated.database_url, "--json"],
    )
    assert result.exit_code == 0, result.output
    assert envelope_data(result.stdout)["plans"] == [served]
    listed = httpx.get(
        f"{treated.url}/v1/accounts/{plan['account_id']}/plans", headers=treated.headers["agent"]
    ).json()["plans"]
    assert served in listed


def test_an_unknown_plan_is_not_found(treated):
    reply = httpx.get(f"{treated.url}/v1/plans/HP-NONE-20261102", headers=treated.headers["admin"])
    assert reply.status_code == 404
    reply = _post(treated, "/v1/plans/HP-NONE-20261102/accept", "admin", {})
    assert reply.status_code == 404
