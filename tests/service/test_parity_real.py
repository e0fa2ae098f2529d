"""The API's decision equals the batch review's for the same accounts, data and versions: 1,000
real UCI accounts, the shipped scorecard fixture and the uci-twd policy, as of 2005-10-01.

Every account is previewed over HTTP before the review runs on the same store (a preview
writes nothing); then the review decides them all and each field is compared. The committed
path is compared too: a copy of the store taken before the review, 100 accounts committed
over HTTP, their stored rows against the review's. Skipped when ../shared/data is absent."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import httpx
import polars as pl
import pytest
from service_support import MODEL, api_decision_json, batch_decision_json, role_headers
from serving import running

from cardpilot.config import Settings
from cardpilot.jobs.importing import import_portfolio
from cardpilot.jobs.review import review_portfolio
from cardpilot.policy.loading import load_policy
from cardpilot.scoring.registry import load_model_dir
from cardpilot.store.db import make_engine
from cardpilot.store.limit_decisions import read_decisions

DATA = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "uci_credit_card_default.csv"
)
POLICY = Path(__file__).resolve().parents[2] / "src" / "cardpilot" / "policies" / "uci-twd"
AS_OF = dt.date(2005, 10, 1)
ACCOUNTS = 1_000
COMMITTED = 100

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.exists(), reason=f"real data absent ({DATA})"),
]


def _first_rows(path: Path) -> Path:
    lines = DATA.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[: ACCOUNTS + 1]), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Settings, Path]:
    home = tmp_path_factory.mktemp("parity")
    settings = Settings(home=home)
    url = f"sqlite:///{home / 'uci.db'}"
    import_portfolio(
        _first_rows(home / "uci-1000.csv"), layout="uci", database_url=url, settings=settings
    )
    return url, settings, home


def _serve(url: str, settings: Settings):  # type: ignore[no-untyped-def]
    from cardpilot.service.app import create_app
    from cardpilot.service.state import ServiceConfig, ServiceState

    config = ServiceConfig(database_url=url, model=MODEL, policy=str(POLICY))
    state = ServiceState.load(config, settings)
    return create_app(config, state), state


def test_the_api_decides_1000_real_accounts_exactly_as_the_batch_review(store):
    url, settings, home = store
    shutil.copy(home / "uci.db", home / "uci-copy.db")
    app, state = _serve(url, settings)
    with state.db.connect() as conn:
        ids = pl.read_database("SELECT account_id FROM accounts ORDER BY account_id", conn)
    accounts = ids["account_id"].to_list()
    assert len(accounts) == ACCOUNTS
    api: dict[str, dict] = {}
    with running(app) as base:
        headers = role_headers(base, state)["system"]
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for account in accounts:
                reply = client.post(
                    f"/v1/accounts/{account}/decision/preview", json={"as_of": AS_OF.isoformat()}
                )
                assert reply.status_code == 200, reply.text
                api[account] = api_decision_json(reply.json()["decision"])
    state.db.dispose()
    batch = _batch_decisions(url)
    assert set(batch) == set(api)
    differ = [a for a in accounts if api[a] != batch[a]]
    assert not differ, (differ[:3], [(api[a], batch[a]) for a in differ[:1]])
    assert {d["action"] for d in api.values()} >= {"increase", "decrease"}
    _committed_equal_the_batch(f"sqlite:///{home / 'uci-copy.db'}", settings, accounts, batch)


def _batch_decisions(url: str) -> dict[str, dict]:
    result = review_portfolio(
        url, load_model_dir(MODEL), policy=load_policy(POLICY), as_of=AS_OF, notify=False
    )
    assert result.decided == ACCOUNTS
    db = make_engine(url)
    try:
        rows = read_decisions(db).iter_rows(named=True)
        return {r["account_id"]: batch_decision_json(r) for r in rows}
    finally:
        db.dispose()


def _committed_equal_the_batch(
    url: str, settings: Settings, accounts: list[str], batch: dict[str, dict]
) -> None:
    app, state = _serve(url, settings)
    with running(app) as base:
        headers = role_headers(base, state)["system"]
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for account in accounts[:COMMITTED]:
                reply = client.post(
                    f"/v1/accounts/{account}/decisions", json={"as_of": AS_OF.isoformat()}
                )
                assert reply.status_code == 201, reply.text
    stored = read_decisions(state.db)
    state.db.dispose()
    assert stored.height == COMMITTED
    for row in stored.iter_rows(named=True):
        assert batch_decision_json(row) == batch[row["account_id"]], row["account_id"]
