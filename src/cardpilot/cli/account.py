"""``cardpilot account show ID``: one account's story as of a day (what the API returns)."""

from __future__ import annotations

import typer

from cardpilot.cli import app
from cardpilot.cli.as_of import as_of_or_default
from cardpilot.cli.common import DATABASE_OPTION, open_engine
from cardpilot.cli.output import JSON_OPTION, console, fail, print_json, titled_table
from cardpilot.config import get_settings

account_app = typer.Typer(
    help="One account: its statements, ledger and decisions.", no_args_is_help=True
)
app.add_typer(account_app, name="account")


@account_app.command("show")
def show(
    account_id: str = typer.Argument(..., metavar="ID", help="The account id."),
    as_of: str | None = typer.Option(None, "--as-of", help="The day to tell the story up to"),
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Statements, postings, balances, decisions with reasons, plans and their events, watch
    flags and contacts of one account; personal data masked."""
    from cardpilot.accounts.story import account_story
    from cardpilot.privacy import FieldCipher

    cipher = FieldCipher.from_settings(get_settings())
    db = open_engine(database)
    try:
        day = as_of_or_default(as_of, db)
        with db.connect() as conn:
            story = account_story(conn, account_id, day, cipher.decrypt)
    finally:
        db.dispose()
    if story is None:
        raise fail(f"no account {account_id!r} in the store")
    if as_json:
        print_json("account show", story)
        return
    _print(story)


def _print(story: dict[str, object]) -> None:
    account = story["account"]
    balances = story["balances"]
    assert isinstance(account, dict)
    assert isinstance(balances, dict)
    customer = account["customer"]
    console.print(
        f"[bold]account {account['account_id']}[/] · {customer['name']} · {customer['phone']} · "
        f"limit {account['credit_limit']} {account['currency']} · {account['status']} · "
        f"as of {story['as_of']}"
    )
    pending = account.get("pending_limit")
    if isinstance(pending, dict):
        console.print(
            f"pending: limit {pending['old_limit']} → {pending['new_limit']} from "
            f"{pending['effective_on']} (decided {pending['decided_on']})"
        )
    console.print(
        f"balance {balances['total']} (principal {balances['principal']}, interest "
        f"{balances['interest']}, fees {balances['fees']})"
    )
    table = titled_table("day", "kind", "component", "amount", "source", title="postings")
    for p in story["postings"]:  # type: ignore[attr-defined]
        table.add_row(
            p["effective_on"], p["kind"], p["component"] or "", p["amount"] or "", p["source"]
        )
    console.print(table)
    names = ("statements", "decisions", "pending_limit_changes", "plans", "watch_flags", "contacts")
    for name in names:
        items = story[name]
        assert isinstance(items, list)
        console.print(f"{name}: {len(items)}")
    for d in story["decisions"]:  # type: ignore[attr-defined]
        reasons = "; ".join(r["zh"] for r in d["reasons"])
        console.print(f"  {d['as_of']} {d['type']} {d['action']}: {reasons}")
