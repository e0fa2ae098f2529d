"""The simulation report: the waterfall's steps add up to the net change, every grade of either
policy has its bars, and the page holds each assumption with its source."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cardpilot.policy.assumptions import load_assumptions
from cardpilot.policy.catalogue import shipped_dir
from cardpilot.reports.simulation import render_simulation_report, simulation_charts
from cardpilot.simulation.economics import FIGURES


def _figures(**given: str) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(FIGURES, "0.00")
    out.update({"accounts": 2, "changed": 1, "increased": 1, "decreased": 0})
    out.update(given)
    return out


def _payload() -> dict[str, Any]:
    mine = _figures(interest="10.00", interchange="2.50", funding="1.00", expected_loss="5.00")
    theirs = _figures(interest="8.00", interchange="2.00", funding="0.80", expected_loss="3.00")
    for f in (mine, theirs):
        revenue = sum(Decimal(f[k]) for k in ("interest", "fees", "interchange"))
        cost = sum(Decimal(f[k]) for k in ("funding", "messages", "waivers", "collections"))
        f.update(revenue=str(revenue), cost=str(cost))
        f["net"] = str(revenue - cost - Decimal(f["expected_loss"]))
    delta = {
        k: (v - theirs[k] if isinstance(v, int) else str(Decimal(v) - Decimal(theirs[k])))
        for k, v in mine.items()
    }
    return {
        "as_of": "2005-10-01",
        "currency": "TWD",
        "model_version": "m1",
        "assumptions_version": "a1",
        "assumptions": load_assumptions(shipped_dir() / "uci-twd").shown(),
        "policies": [
            {
                "role": "policy",
                "name": "p",
                "policy_version": "1",
                "total": mine,
                "by_grade": [{"grade": "good", **mine}],
                "by_segment": [{"segment": "s", **mine}],
            },
            {
                "role": "against",
                "name": "q",
                "policy_version": "2",
                "total": theirs,
                "by_grade": [{"grade": "fair", **theirs}],
                "by_segment": [{"segment": "s", **theirs}],
            },
        ],
        "difference": {
            "total": delta,
            "by_grade": [{"grade": "good", **mine}, {"grade": "fair", **theirs}],
            "by_segment": [{"segment": "s", **delta}],
        },
    }


def test_the_waterfall_steps_add_up_to_the_net_change() -> None:
    payload = _payload()
    chart = simulation_charts(payload)["net-waterfall"]
    rows = chart["datasets"][chart["data"]["name"]]  # Altair keeps inline data by name
    steps, end = rows[:-1], rows[-1]
    assert sum(r["change"] for r in steps) == pytest.approx(end["level"])
    assert end["level"] == pytest.approx(float(payload["difference"]["total"]["net"]))
    # A larger expected loss is a step down.
    loss = next(r for r in steps if r["step"].startswith("expected loss"))
    assert loss["change"] == pytest.approx(-2.0)
    assert loss["kind"] == "down"


def test_the_grade_bars_show_every_grade_of_either_policy() -> None:
    chart = simulation_charts(_payload())["grade-net"]
    assert chart["encoding"]["y"]["sort"] == ["good", "fair"]


def test_the_page_shows_each_assumption_beside_its_source() -> None:
    payload = _payload()
    page = render_simulation_report(payload, locale="en")
    for row in payload["assumptions"]:
        assert row["name"] in page
        assert row["source"].split(";")[0][:40].replace("'", "&#39;") in page
    assert "NT$" in page
