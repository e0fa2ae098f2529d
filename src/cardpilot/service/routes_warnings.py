"""The early-warning watch list (``cardpilot warn list``): the latest run's accounts, riskiest
first, with their reasons and the interventions decided that day, a page at a time."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from cardpilot.service.days import Day
from cardpilot.service.problems import PROBLEM_RESPONSES
from cardpilot.service.security import CallerDep, state_of
from cardpilot.store.warning_interventions import latest_run_date, watch_list

router = APIRouter(prefix="/v1", tags=["warnings"], responses=PROBLEM_RESPONSES)
Json = dict[str, Any]


@router.get("/warnings", response_model=Json)
def warnings(
    request: Request,
    who: CallerDep,
    as_of: Annotated[
        Day | None,
        Query(
            description="The latest run on or before this day; default: the day after the"
            " store's latest cycle"
        ),
    ] = None,
    after: Annotated[
        int, Query(ge=0, le=10_000_000, description="Rank of the last account of the page before")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Json:
    """The watch list of the latest early-warning run on or before ``as_of``; ``as_of`` null
    and an empty list when there has been none (``cardpilot warn run`` makes one)."""
    state = state_of(request)
    day = latest_run_date(state.db, as_of or state.default_as_of())
    if day is None:
        return {"as_of": None, "watch_list": [], "next_after": None}
    rows = watch_list(state.db, day, limit, after)
    last = rows[-1]["rank"] if len(rows) == limit else None
    return {"as_of": day.isoformat(), "watch_list": rows, "next_after": last}
