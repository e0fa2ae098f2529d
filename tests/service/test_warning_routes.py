"""The early-warning watch list through the service: ``cardpilot warn list`` a page at a time,
and an empty list (not an error) before any run."""

from __future__ import annotations

import httpx
import pytest
from routes_support import TREATED_ON, run_early_warning
from service_support import Service
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data


def _warnings(service: Service, role: str = "analyst", **params: object) -> httpx.Response:
    return httpx.get(
        f"{service.url}/v1/warnings", params=params, headers=service.headers[role], timeout=60
    )


@pytest.fixture(scope="module")
def warned(service: Service) -> Service:
    run_early_warning(service.database_url)
    return service


def test_before_any_run_the_watch_list_is_empty_and_says_there_was_no_run(warned):
    reply = _warnings(warned, as_of="2026-10-01")
    assert reply.status_code == 200
    assert reply.json() == {"as_of": None, "watch_list": [], "next_after": None}


def test_the_watch_list_is_warn_list_a_page_at_a_time(warned):
    first = _warnings(warned, limit=4).json()
    assert first["as_of"] == TREATED_ON.isoformat()
    assert [r["rank"] for r in first["watch_list"]] == [1, 2, 3, 4]
    assert first["next_after"] == 4
    second = _warnings(warned, limit=4, after=first["next_after"]).json()
    assert [r["rank"] for r in second["watch_list"]] == [5, 6, 7, 8]
    result = CliRunner().invoke(
        app, ["warn", "list", "--limit", "8", "--database", warned.database_url, "--json"]
    )
    assert result.exit_code == 0, result.output
    listed = envelope_data(result.stdout)
    assert listed["as_of"] == first["as_of"]
    assert listed["watch_list"] == first["watch_list"] + second["watch_list"]


def test_each_account_on_the_list_carries_its_reasons_in_both_languages(warned):
    row = _warnings(warned, limit=1).json()["watch_list"][0]
    assert row["reason_codes"] == ["RC_EW_PAYMENT_DROP"]
    reasons = [r for i in row["interventions"] for r in i["reasons"]]
    assert reasons
    assert all(r["zh-CN"] and r["en"] for r in reasons)


def test_the_last_page_says_there_is_no_next(warned):
    everything = _warnings(warned, limit=500).json()
    assert everything["next_after"] is None
    assert len(everything["watch_list"]) < 500
