"""``simulate_portfolio`` on a store: decides as the review decides (the same decision
function, nothing written), prices both policies, and every breakdown adds up to its total."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cardpilot.jobs.review import review_portfolio
from cardpilot.jobs.simulate import NamedPolicy, SimulationError, simulate_portfolio
from cardpilot.policy.assumptions import load_assumptions
from cardpilot.policy.catalogue import shipped_dir
from cardpilot.policy.loading import load_policy
from cardpilot.simulation.economics import FIGURES
from cardpilot.store.db import make_engine
from cardpilot.store.limit_decisions import read_decisions

from .conftest import AS_OF, raised_increase_ranges

DEFAULT = shipped_dir() / "default"


def _simulate(url: str, scorer: Any, against: Path | None = None, **kw: Any) -> Any:
    return simulate_portfolio(
        url,
        scorer,
        NamedPolicy("default", load_policy(DEFAULT)),
        load_assumptions(DEFAULT),
        against=NamedPolicy(str(against), load_policy(against)) if against else None,
        as_of=AS_OF,
        chunk_rows=300,
        **kw,
    )


def _value(figures: dict[str, Any], key: str) -> Decimal:
    """A count or an exact decimal string, as a Decimal."""
    return Decimal(figures[key])


def test_the_simulation_writes_nothing_and_decides_as_the_review_does(
    simulation_store: str, scorer: Any
) -> None:
    result = _simulate(simulation_store, scorer)
    db = make_engine(simulation_store)
    try:
        assert read_decisions(db).height == 0
    finally:
        db.dispose()
    review = review_portfolio(
        simulation_store, scorer, policy=load_policy(DEFAULT), as_of=AS_OF, notify=False
    )
    total = result.policy.total()
    assert total["accounts"] == review.decided
    assert total["increased"] == review.by_action.get("increase", 0)
    assert total["decreased"] == review.by_action.get("decrease", 0)
    assert {g: f["accounts"] for g, f in result.policy.by("grade").items()} == review.by_grade
    assert {s: f["accounts"] for s, f in result.policy.by("segment").items()} == review.by_segment
    # Without --against the comparison is every current limit kept.
    assert result.against.name == "current limits"
    assert result.against.total()["changed"] == 0


def test_every_breakdown_adds_up_to_its_total_to_the_minor_unit(
    simulation_store: str, scorer: Any, tmp_path: Path
) -> None:
    raised = raised_increase_ranges(DEFAULT, tmp_path / "raised")
    payload = _simulate(simulation_store, scorer, against=raised).as_json()
    tables = [*payload["policies"], payload["difference"]]
    for table in tables:
        for key in FIGURES:
            total = _value(table["total"], key)
            for column in ("grade", "segment"):
                assert sum(_value(r, key) for r in table[f"by_{column}"]) == total, (key, column)
        t = table["total"]
        net = Decimal(t["revenue"]) - Decimal(t["cost"]) - Decimal(t["expected_loss"])
        assert Decimal(t["net"]) == net
    mine, theirs = payload["policies"]
    for key in ("exposure", "expected_loss", "revenue", "cost", "net"):
        difference = Decimal(mine["total"][key]) - Decimal(theirs["total"][key])
        assert Decimal(payload["difference"]["total"][key]) == difference


def test_ranges_ten_points_higher_add_more_limit_and_exposure(
    simulation_store: str, scorer: Any, tmp_path: Path
) -> None:
    raised = raised_increase_ranges(DEFAULT, tmp_path / "raised")
    result = _simulate(simulation_store, scorer, against=raised)
    mine, theirs = result.policy.total(), result.against.total()
    assert mine["increased"] > 0
    # The same accounts are due; a larger step meets a grade or income cap more often (kept).
    assert 0 < theirs["increased"] <= mine["increased"]
    assert theirs["limit_added"] > mine["limit_added"]
    assert theirs["exposure"] > mine["exposure"]
    assert theirs["expected_loss"] > mine["expected_loss"]
    assert result.against.policy_version != result.policy.policy_version


def test_a_store_with_outcomes_is_back_tested_per_grade(simulation_store: str, scorer: Any) -> None:
    payload = _simulate(simulation_store, scorer).as_json()
    backtest = payload["backtest"]
    assert backtest["label"] == "default_next_month"
    grades = [r["grade"] for r in backtest["grades"]]
    assert grades[-1] == "all"
    assert sum(r["accounts"] for r in backtest["grades"][:-1]) == backtest["grades"][-1]["accounts"]
    assert backtest["verdict"]
    assert "backtest" not in _simulate(simulation_store, scorer, label=None).as_json()


def test_a_policy_in_another_currency_is_refused_naming_the_fix(
    simulation_store: str, scorer: Any
) -> None:
    uci = shipped_dir() / "uci-twd"
    with pytest.raises(SimulationError, match=r"CNY but the amounts of policy uci-twd are in TWD"):
        simulate_portfolio(
            simulation_store,
            scorer,
            NamedPolicy("uci-twd", load_policy(uci)),
            load_assumptions(uci),
            as_of=AS_OF,
        )
