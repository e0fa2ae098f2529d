"""Every command that reports figures prints the one ``--json`` envelope, valid against
``envelope.schema.json`` and against its own data schema (``cli/schemas/<command>.schema.json``),
money in major units under a currency and rates as decimal strings: run on the demo's store, one
command after another."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import sqlite3
import uuid
import warnings
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.conventions import leaves, nodes
from cardpilot.config import get_settings
from cardpilot.domain.figures import MoneyWithoutCurrencyWarning
from cardpilot.stream.broker import Broker, connect
from cardpilot.version import __version__

pytestmark = pytest.mark.slow

# Leaf commands with no --json, and why: none of them reports figures of its own.
NO_JSON = {
    ("demo",): "a guided tour printing its steps; each step is a command below",
    ("notify", "worker"): "runs until stopped; `notify status --json` reports on it",
    ("audit", "export"): "writes the audit records themselves, as JSON lines",
    ("serve",): "runs the HTTP service until stopped; its own answers are JSON",
}


Context = dict[str, Any]


def trained(ctx: Context) -> str:
    """The scorecard version ``model train`` registered (its report is in the registry)."""
    version: str = ctx["model train"]["scorecard"]["version"]
    return version


Step = tuple[tuple[str, ...], Callable[[Context], list[str]]]

# One invocation per command with --json, in an order where each finds what it needs (a case
# to decide, a plan to accept); ``ctx`` holds the demo's facts and earlier commands' answers.
STEPS: list[Step] = [
    (("summary",), lambda c: ["summary"]),
    (("db", "upgrade"), lambda c: ["db", "upgrade"]),
    (("aging",), lambda c: ["aging", "--as-of", c["as_of"], "--no-store"]),
    (("review",), lambda c: ["review"]),
    (("review", "explain"), lambda c: ["review", "explain", c["account"]]),
    (("watch",), lambda c: ["watch"]),
    (("assign",), lambda c: ["assign", "--score", "700", "--income", "120000"]),
    (("account", "show"), lambda c: ["account", "show", c["account"], "--as-of", c["as_of"]]),
    (("cases", "open"), lambda c: ["cases", "open", c["account"], "--reason", "客户申请复核"]),
    (
        ("cases", "decide"),
        lambda c: [
            "cases",
            "decide",
            str(c["cases open"]["id"]),
            "--outcome",
            "uphold",
            "--reason",
            "维持原决定",
        ],
    ),
    (("cases", "list"), lambda c: ["cases", "list"]),
    (("limits", "apply-pending"), lambda c: ["limits", "apply-pending", "--as-of", c["as_of"]]),
    (("audit", "verify"), lambda c: ["audit", "verify"]),
    (("ledger", "check"), lambda c: ["ledger", "check"]),
    (("fairness", "report"), lambda c: ["fairness", "report", "--min-group", "10"]),
    (("notify", "queue"), lambda c: ["notify", "queue"]),
    (("notify", "dispatch"), lambda c: ["notify", "dispatch"]),
    (("notify", "status"), lambda c: ["notify", "status"]),
    (("notify", "preview"), lambda c: ["notify", "preview", "--account", c["account"]]),
    (("overdue", "treat"), lambda c: ["overdue", "treat", "--as-of", c["as_of"]]),
    (("overdue", "report"), lambda c: ["overdue", "report", "--out", str(c["tmp"] / "o.html")]),
    (("overdue", "remind"), lambda c: ["overdue", "remind", "--as-of", c["as_of"]]),
    (("overdue", "opt-in"), lambda c: ["overdue", "opt-in", c["customer"]]),
    (("overdue", "simulate"), lambda c: ["overdue", "simulate", "--as-of", c["as_of"]]),
    (("simulate",), lambda c: ["simulate", "--out", str(c["tmp"] / "simulation.html")]),
    (
        ("plan", "quote"),
        lambda c: [
            "plan",
            "quote",
            "--principal",
            "12000",
            "--months",
            "12",
            "--start",
            "2026-11-01",
        ],
    ),
    (
        ("plan", "offer"),
        lambda c: ["plan", "offer", "--account", c["offerable"][0], "--on", c["as_of"]],
    ),
    (
        ("plan", "accept"),
        lambda c: [
            "plan",
            "accept",
            "--plan",
            c["plan offer"]["plans"][0]["plan_id"],
            "--on",
            c["as_of"],
        ],
    ),
    (
        ("plan", "offer"),
        lambda c: ["plan", "offer", "--account", c["offerable"][1], "--on", c["as_of"]],
    ),
    (
        ("plan", "decline"),
        lambda c: [
            "plan",
            "decline",
            "--plan",
            c["plan offer"]["plans"][0]["plan_id"],
            "--on",
            c["as_of"],
        ],
    ),
    (("plan", "advance"), lambda c: ["plan", "advance", "--as-of", c["as_of"]]),
    (("plan", "status"), lambda c: ["plan", "status"]),
    (
        ("segments", "cluster"),
        lambda c: ["segments", "cluster", "--k", "3", "--out", str(c["tmp"] / "seg")],
    ),
    (
        ("segments", "profile"),
        lambda c: [
            "segments",
            "profile",
            "--clustering",
            str(c["tmp"] / "seg"),
            "--out",
            str(c["tmp"] / "seg-again"),
        ],
    ),
    (("model", "train"), lambda c: ["model", "train", "--out", str(c["tmp"] / "models")]),
    (("model", "list"), lambda c: ["model", "list"]),
    (("model", "show"), lambda c: ["model", "show", trained(c)]),
    (("model", "promote"), lambda c: ["model", "promote", trained(c)]),
    (
        ("model", "report"),
        lambda c: ["model", "report", trained(c), "--out", str(c["tmp"] / "m.html")],
    ),
    (("model", "psi"), lambda c: ["model", "psi", str(c["scores_a"]), str(c["scores_b"])]),
    (("warn", "train"), lambda c: ["warn", "train", "--format", "store"]),
    (("warn", "run"), lambda c: ["warn", "run", "--as-of", c["as_of"]]),
    (("warn", "list"), lambda c: ["warn", "list", "--limit", "5"]),
    (("policy", "list"), lambda c: ["policy", "list"]),
    (("policy", "validate"), lambda c: ["policy", "validate", "default"]),
    (("policy", "show"), lambda c: ["policy", "show", "default"]),
    (("policy", "diff"), lambda c: ["policy", "diff", "default", "uci-twd"]),
    (
        ("policy", "calibrate"),
        lambda c: ["policy", "calibrate", "--sample", "300", "--out", str(c["tmp"] / "cal")],
    ),
    (("policy", "migrate"), lambda c: ["policy", "migrate", str(c["policy_copy"])]),
    (
        ("policy", "publish"),
        lambda c: ["policy", "publish", str(c["policy_copy"]), "--name", "bank-json"],
    ),
    (
        ("apply",),
        lambda c: ["apply", str(_applications(c["tmp"])), "--model", str(APPLICATION_MODEL)],
    ),
    (("advise",), lambda c: ["advise", c["account"]]),
    (
        ("plan", "purchase"),
        lambda c: [
            "plan",
            "purchase",
            c["account"],
            "--purpose",
            "car",
            "--amount",
            "60000",
            "--months",
            "12",
            "--income",
            "40000",
        ],
    ),
    (
        ("request", "increase"),
        lambda c: [
            "request",
            "increase",
            c["account"],
            "--kind",
            "temporary",
            "--amount",
            "1000",
            "--months",
            "2",
        ],
    ),
    (("request", "expire"), lambda c: ["request", "expire", "--as-of", "2030-01-01"]),
    (
        ("users", "add"),
        lambda c: ["users", "add", "li.na", "--role", "analyst", "--password", "s3cret-pass"],
    ),
    (("users", "list"), lambda c: ["users", "list"]),
    (("users", "disable"), lambda c: ["users", "disable", "li.na"]),
    (("keys", "create"), lambda c: ["keys", "create", "card-platform"]),
    (("keys", "list"), lambda c: ["keys", "list"]),
    (("keys", "revoke"), lambda c: ["keys", "revoke", c["keys create"]["key_id"]]),
    (("keys", "rotate-signing"), lambda c: ["keys", "rotate-signing"]),
    (("privacy", "status"), lambda c: ["privacy", "status"]),
    (("privacy", "rotate"), lambda c: ["privacy", "rotate"]),
    (("events", "publish"), lambda c: ["events", "publish", str(c["events"]), *c["broker"]]),
    (
        ("events", "consume"),
        lambda c: ["events", "consume", "--idle-exit", "1", "--ack-wait", "1", *c["broker"]],
    ),
    (
        ("experiments", "create"),
        lambda c: [
            "experiments",
            "create",
            "t-json",
            "--champion",
            "default",
            "--challenger",
            str(c["policy_copy"]),
            "--share",
            "0.2",
            "--start",
            c["as_of"],
        ],
    ),
    (("experiments", "list"), lambda c: ["experiments", "list"]),
    (("experiments", "report"), lambda c: ["experiments", "report", "t-json"]),
    (("experiments", "stop"), lambda c: ["experiments", "stop", "t-json"]),
    # Last of the store's steps: a promoted challenger reviews later runs given no --policy.
    (("experiments", "promote"), lambda c: ["experiments", "promote", "t-json"]),
    (
        ("generate",),
        lambda c: [
            "generate",
            "--accounts",
            "30",
            "--months",
            "3",
            "--no-transactions",
            "--end-cycle",
            "2026-06-30",
            "--out",
            str(c["tmp"] / "gen"),
        ],
    ),
    (
        ("import",),
        lambda c: [
            "import",
            str(c["tmp"] / "gen"),
            "--database",
            f"sqlite:///{c['tmp'] / 'imported.db'}",
        ],
    ),
]


APPLICATION_MODEL = (
    Path(__file__).resolve().parents[1] / "fixtures" / "models" / "application-scorecard"
)


def _applications(tmp: Path) -> Path:
    """A two-row applications file (the generic layout's)."""
    path = tmp / "applications.csv"
    path.write_text(
        "application_id,seniority_years,home,term_months,age,adverse_records,job,"
        "monthly_expenses,monthly_income,assets,debt,amount_requested,purchase_price\n"
        "J1,12,owner,36,40,no,fixed,4000,30000,200000,0,30000,40000\n"
        "J2,1,rent,60,23,yes,partime,6000,5000,0,20000,80000,82000\n",
        encoding="utf-8",
    )
    return path


def envelope_schema() -> dict[str, Any]:
    text = resources.files("cardpilot.cli").joinpath("envelope.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def command_schema(command: str) -> dict[str, Any] | None:
    """The JSON Schema of ``command``'s data (``cli/schemas/<command>.schema.json``), if any."""
    found = resources.files("cardpilot.cli").joinpath(
        "schemas", command.replace(" ", "-") + ".schema.json"
    )
    if not found.is_file():
        return None
    schema: dict[str, Any] = json.loads(found.read_text("utf-8"))
    return schema


MONEY, RATE, DECIMAL = "#/$defs/money", "#/$defs/rate", "#/$defs/decimal"
PERCENT = "#/$defs/percent"  # a policy file's percentage as written, under a key ending _pct
FIGURE = "#/$defs/figure"  # money or a rate as its row says (experiments report: "money")
DECIMAL_TEXT = re.compile(r"^-?[0-9]+\.[0-9]+$")


def _declared(node: dict[str, Any]) -> str | None:
    """The figure a schema node declares (money, rate or another decimal), if any."""
    for option in [node, *node.get("anyOf", [])]:
        if option.get("$ref") in (MONEY, RATE, DECIMAL, PERCENT, FIGURE):
            return str(option["$ref"])
    return None


def _child(node: dict[str, Any], key: str) -> dict[str, Any]:
    for option in [node, *node.get("anyOf", [])]:
        found = option.get("properties", {}).get(key)
        if found is None and isinstance(option.get("additionalProperties"), dict):
            found = option["additionalProperties"]
        if found is not None:
            return dict(found)
    return {}


def _items(node: dict[str, Any]) -> dict[str, Any]:
    for option in [node, *node.get("anyOf", [])]:
        if isinstance(option.get("items"), dict):
            return dict(option["items"])
    return {}


def _resolved(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """``node``, or the definition its ``$ref`` names when that is not a figure's."""
    ref = node.get("$ref")
    if isinstance(ref, str) and _declared(node) is None and ref.startswith("#/$defs/"):
        return dict(root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {}))
    return node


def figure_problems(
    node: dict[str, Any],
    data: Any,
    where: str = "data",
    currency: bool = False,
    root: dict[str, Any] | None = None,
) -> list[str]:
    """Where ``data`` breaks the money and rate convention, by its command's schema: money
    (``$defs/money``) with no ``currency`` at its level or above it, and a decimal figure the
    schema does not declare as money, a rate or another decimal (so none is left unchecked)."""
    root = node if root is None else root
    node = _resolved(node, root)
    if isinstance(data, dict):
        currency = currency or bool(data.get("currency"))
        return [
            p
            for key, value in data.items()
            for p in figure_problems(_child(node, key), value, f"{where}.{key}", currency, root)
        ]
    if isinstance(data, list):
        return [
            p
            for i, value in enumerate(data)
            for p in figure_problems(_items(node), value, f"{where}[{i}]", currency, root)
        ]
    declared = _declared(node)
    if declared == MONEY and data is not None and not currency:
        return [f"{where}: money with no currency beside it or above it"]
    if declared is None and isinstance(data, str) and DECIMAL_TEXT.match(data):
        return [f"{where}: {data!r} is a figure the schema does not declare (money, rate)"]
    return []


def takes_json(cmd: Any) -> bool:
    return any("--json" in getattr(p, "opts", ()) for p in cmd.params)


def json_leaves() -> dict[tuple[str, ...], bool]:
    """Every leaf command, and whether it takes --json."""
    return {path: takes_json(cmd) for path, cmd in leaves(typer.main.get_command(app))}


def test_every_command_takes_json_unless_it_reports_no_figures_of_its_own() -> None:
    found = json_leaves()
    missing = sorted(p for p, has in found.items() if not has and p not in NO_JSON)
    assert missing == [], f"add --json (cardpilot.cli.output.print_json) to {missing}"


def test_every_command_with_json_is_run_by_the_envelope_test() -> None:
    covered = {path for path, _ in STEPS}
    with_json = [path for path, cmd in nodes(typer.main.get_command(app)) if takes_json(cmd)]
    untested = sorted(p for p in with_json if p not in covered)
    assert untested == [], f"add a step to STEPS for {untested}"


def test_every_command_with_json_has_a_data_schema() -> None:
    missing = sorted({" ".join(p) for p, _ in STEPS if command_schema(" ".join(p)) is None})
    assert missing == [], f"write cli/schemas/<command>.schema.json for {missing}"


def test_the_convention_check_finds_money_without_currency_and_undeclared_figures() -> None:
    schema = {
        "type": "object",
        "properties": {
            "limit": {"$ref": MONEY},
            "rows": {"type": "array", "items": {"properties": {"cut": {"$ref": RATE}}}},
        },
    }
    assert (
        figure_problems(schema, {"currency": "CNY", "limit": "1.00", "rows": [{"cut": "0.1"}]})
        == []
    )
    assert figure_problems(schema, {"limit": "1.00"}) == [
        "data.limit: money with no currency beside it or above it"
    ]
    assert figure_problems(schema, {"rows": [{"cut": "0.1", "fee": "2.50"}]}) == [
        "data.rows[0].fee: '2.50' is a figure the schema does not declare (money, rate)"
    ]


def _purchase(account: str) -> dict[str, Any]:
    """One purchase event of ``account`` (cardpilot.events.schema)."""
    return {
        "schema_version": 1,
        "event_id": f"{account}-json-1",
        "account_id": account,
        "sequence": 1,
        "occurred_at": "2026-11-01T09:00:00+08:00",
        "type": "purchase",
        "amount_minor": 10_000,
        "currency": "CNY",
    }


async def _delete_streams(broker: Broker) -> None:
    nc, js = await connect(broker)
    try:
        for name in (broker.stream, broker.dead_stream):
            with contextlib.suppress(Exception):  # never made, or gone already
                await js.delete_stream(name)
    finally:
        await nc.close()


def _store_facts(db: Path) -> dict[str, Any]:
    """An account with a decision, its customer and accounts a plan can be offered to (the
    demo's store)."""
    with sqlite3.connect(db) as conn:
        account, customer = conn.execute(
            "SELECT d.account_id, a.customer_id FROM limit_decisions d"
            " JOIN accounts a ON a.account_id = d.account_id ORDER BY d.account_id LIMIT 1"
        ).fetchone()
        offerable = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT t.account_id FROM overdue_treatments t"
                " JOIN accounts a ON a.account_id = t.account_id"
                " WHERE t.risk_segment <> 'high_risk' AND a.customer_id NOT IN"
                " (SELECT customer_id FROM repayment_plans) ORDER BY t.account_id"
            )
        ]
    return {
        "account": account,
        "customer": customer,
        "offerable": offerable,
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    tmp = tmp_path_factory.mktemp("json-everywhere")
    home = tmp / "home"
    patch = pytest.MonkeyPatch()
    patch.setenv("CARDPILOT_HOME", str(home))
    patch.delenv("CARDPILOT_DATABASE_URL", raising=False)
    patch.setenv("CARDPILOT_POLICY_DIR", str(tmp / "local-policies"))  # where policies publish
    get_settings.cache_clear()
    made = CliRunner().invoke(app, ["demo", "--accounts", "300", "--seed", "7"])
    assert made.exit_code == 0, made.output
    patch.setenv("CARDPILOT_DATABASE_URL", f"sqlite:///{(home / 'demo.db').resolve()}")
    get_settings.cache_clear()
    rng = np.random.default_rng(0)
    pl.DataFrame({"score": rng.normal(550, 20, 500).round()}).write_csv(tmp / "a.csv")
    pl.DataFrame({"score": rng.normal(560, 20, 500).round()}).write_csv(tmp / "b.csv")
    from cardpilot.policy.loading import default_policy_path

    shutil.copytree(default_policy_path(), tmp / "policy-copy")
    events = tmp / "events.jsonl"
    account = _store_facts(home / "demo.db")["account"]
    events.write_text(json.dumps(_purchase(account)) + "\n", encoding="utf-8")
    tag = uuid.uuid4().hex[:8]
    broker = Broker(stream=f"CLI_JSON_{tag}", prefix=f"cli-json.{tag}", durable=f"cli{tag}")
    yield {
        "tmp": tmp,
        "as_of": "2026-11-01",  # the day after the demo's last cycle
        "scores_a": tmp / "a.csv",
        "scores_b": tmp / "b.csv",
        "policy_copy": tmp / "policy-copy",
        "events": events,
        "broker": [
            "--stream",
            broker.stream,
            "--subject-prefix",
            broker.prefix,
        ],
        **_store_facts(home / "demo.db"),
    }
    patch.undo()
    get_settings.cache_clear()
    asyncio.run(_delete_streams(broker))


def _run(path: tuple[str, ...], args: list[str], ctx: Context) -> list[str]:
    """Run one step; the problems with what it printed (none: a valid envelope)."""
    with warnings.catch_warnings(record=True) as told:
        warnings.simplefilter("always", MoneyWithoutCurrencyWarning)
        result = CliRunner().invoke(app, [*args, "--json"])
    name = " ".join(path)
    if result.exit_code not in (0, 1):  # 1: a check that found something (audit, privacy)
        return [f"{name}: exit {result.exit_code}: {result.output[-600:]}"]
    lines = result.stdout.strip().splitlines()
    if len(lines) != 1:
        return [f"{name}: {len(lines)} lines on stdout, not one envelope"]
    envelope = json.loads(lines[0])
    problems = [
        f"{name}: {e.json_path}: {e.message}"
        for e in jsonschema.Draft202012Validator(envelope_schema()).iter_errors(envelope)
    ]
    own = command_schema(name)
    if own is None:
        problems.append(
            f"{name}: no data schema (cli/schemas/{name.replace(' ', '-')}.schema.json)"
        )
    else:  # the command's own data schema, and the money and rate convention by it
        problems += [
            f"{name}: data{e.json_path[1:]}: {e.message}"
            for e in jsonschema.Draft202012Validator(own).iter_errors(envelope.get("data"))
        ]
        problems += [f"{name}: {p}" for p in figure_problems(own, envelope.get("data"))]
    if envelope.get("command") != name:
        problems.append(f"{name}: the envelope names {envelope.get('command')!r}")
    if envelope.get("version") != __version__:
        problems.append(f"{name}: version {envelope.get('version')!r}")
    problems += [f"{name}: {w.message}" for w in told if w.category is MoneyWithoutCurrencyWarning]
    ctx[name] = envelope.get("data")
    return problems


def test_every_figure_reporting_command_prints_one_valid_envelope(demo: Context) -> None:
    problems: list[str] = []
    for path, argv in STEPS:
        problems += _run(path, argv(demo), demo)
    assert problems == [], "\n".join(problems)
