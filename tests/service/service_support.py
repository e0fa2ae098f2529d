"""What the service tests share: a seeded SQLite store (a small synthetic portfolio, reviewed
with the shipped UCI scorecard fixture and the default policy), a user per staff role and an API
key for the system role, and the service started on a real loopback server."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import httpx

from cardpilot.config import Settings
from cardpilot.domain.figures import json_value, rate_from_bp

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "uci-scorecard"
END_CYCLE = dt.date(2026, 10, 31)
STAFF_ROLES = ("admin", "strategy", "analyst", "agent", "auditor")
ROLES = (*STAFF_ROLES, "system")
PASSWORD = "correct horse battery"


@dataclass
class Service:
    url: str
    database_url: str
    home: Path
    headers: dict[str, dict[str, str]]  # by role
    account_id: str  # an account with a review decision
    run_id: int
    state: object

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


def seeded_store(
    home: Path, accounts: int = 120, review: bool = True, url: str | None = None
) -> tuple[str, Settings]:
    from cardpilot.jobs.importing import import_portfolio
    from cardpilot.jobs.review import review_portfolio
    from cardpilot.scoring.registry import load_model_dir
    from cardpilot.synth.generate import GenerateOptions, generate_portfolio

    settings = Settings(home=home, policy_dir=home / "policies")  # where policies publish
    portfolio = home / "portfolio"
    generate_portfolio(
        GenerateOptions(
            accounts=accounts,
            out=portfolio,
            seed=24,
            months=12,
            transactions=False,
            end_cycle=END_CYCLE,
            chunk_size=500,
        )
    )
    url = url or f"sqlite:///{home / 'store.db'}"
    import_portfolio(portfolio, layout="generic", database_url=url, settings=settings)
    if review:
        review_portfolio(url, load_model_dir(MODEL), notify=True)
    return url, settings


def start_service(url: str, settings: Settings, model: Path = MODEL):  # type: ignore[no-untyped-def]
    from routes_support import isolated_broker

    from cardpilot.service.app import create_app
    from cardpilot.service.state import ServiceConfig, ServiceState

    config = ServiceConfig(database_url=url, model=model)
    state = ServiceState.load(config, settings)
    state.broker = isolated_broker()  # never the stream a running consumer reads
    app = create_app(config, state)
    assert state.warmed.wait(60)  # its start-up read of the store, as /ready waits for
    return app, state


def role_headers(url: str, state) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    from cardpilot.service.callers import create_key, create_user

    headers: dict[str, dict[str, str]] = {}
    for role in STAFF_ROLES:
        create_user(state.db, state.matrix, f"{role}-1", PASSWORD, role)
        reply = httpx.post(
            f"{url}/v1/auth/token", data={"username": f"{role}-1", "password": PASSWORD}
        )
        reply.raise_for_status()
        headers[role] = {"Authorization": f"Bearer {reply.json()['access_token']}"}
    _, key = create_key(state.db, state.matrix, "card-platform", "system")
    headers["system"] = {"X-API-Key": key}
    return headers


# The decision JSON fields compared with the batch review's row as they are.
DECISION_FIELDS = ("action", "grade", "segment", "score", "old_limit", "new_limit", "increase")


def batch_decision_json(row: dict) -> dict:
    """A stored or batch decision row as the API's decision JSON gives its compared fields."""
    bp = row["increase_pct_bp"]
    return {
        "action": row["action"],
        "grade": row["grade"],
        "segment": row["segment"],
        "score": row["score"],
        "old_limit": f"{row['old_limit_minor'] / 100:.2f}",
        "new_limit": f"{row['new_limit_minor'] / 100:.2f}",
        "increase": rate_from_bp(bp),
        "pd": json_value(row["pd"]),
        "reason_codes": list(row["reason_codes"]),
        "reason_texts_zh": list(row["reason_texts_zh"]),
        "reason_texts_en": list(row["reason_texts_en"]),
        "policy_version": row["policy_version"],
        "model_version": row["model_version"],
    }


def api_decision_json(decision: dict) -> dict:
    """The API's decision JSON's compared fields, reasons as the batch row's lists."""
    out = {k: decision[k] for k in DECISION_FIELDS}
    out |= {
        "pd": decision["pd"],
        "reason_codes": [r["code"] for r in decision["reasons"]],
        "reason_texts_zh": [r["zh"] for r in decision["reasons"]],
        "reason_texts_en": [r["en"] for r in decision["reasons"]],
        "policy_version": decision["policy_version"],
        "model_version": decision["model_version"],
    }
    return out
