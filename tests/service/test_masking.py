"""Personal data on the account route: masked for an agent (and everyone by default),
unmasked only for a role holding personal_data.unmask, and every unmasked view audited."""

from __future__ import annotations

import httpx
from service_support import Service

from cardpilot.privacy.masking import mask_national_id, mask_phone
from cardpilot.store.audit import iter_records


def _customer(service: Service, role: str, **params: str) -> httpx.Response:
    return httpx.get(
        f"{service.url}/v1/accounts/{service.account_id}",
        headers=service.headers[role],
        params=params,
        timeout=30,
    )


def test_an_agent_reading_an_account_sees_masked_personal_data(service):
    reply = _customer(service, "agent")
    assert reply.status_code == 200
    customer = reply.json()["account"]["customer"]
    assert "*" in customer["name"]
    assert "****" in customer["phone"]
    assert "*" in customer["national_id"]
    clear = _customer(service, "admin", unmask="true").json()["account"]["customer"]
    assert customer["phone"] != clear["phone"]
    assert customer["phone"] == mask_phone(clear["phone"])
    assert customer["national_id"] == mask_national_id(clear["national_id"])


def test_an_agent_may_not_ask_for_personal_data_unmasked(service):
    reply = _customer(service, "agent", unmask="true")
    assert reply.status_code == 403
    assert reply.headers["content-type"] == "application/problem+json"


def test_every_unmasked_view_is_audited_with_who_and_which_account(service):
    def views() -> list[object]:
        return [r for r in iter_records(service.state.db) if r.action == "personal_data.view"]

    before = len(views())
    assert _customer(service, "analyst", unmask="true").status_code == 200
    assert _customer(service, "analyst").status_code == 200  # masked: not audited
    after = views()
    assert len(after) == before + 1
    assert after[-1].actor == "user:analyst-1"
    assert after[-1].subject == f"account:{service.account_id}"
