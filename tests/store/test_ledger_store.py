"""The ledger's table: insert-or-ignore on the idempotency key, per-account reads, balances as
of a day, and the opening balance fixed by an account's first statement, on both stores."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import text

from cardpilot.ledger.invariants import check_postings
from cardpilot.ledger.postings import Component, Kind, Posting, Source
from cardpilot.store import ledger
from cardpilot.store.db import make_engine, upgrade

ZONE = ZoneInfo("Asia/Shanghai")


def _at(day: int) -> dt.datetime:
    return dt.datetime(2026, 3, day, 9, 30, tzinfo=ZONE)


def _posting(key: str, kind: Kind, amount: int | None, day: int, **kw: object) -> Posting:
    component = kw.pop("component", Component.PRINCIPAL if amount is not None else None)
    return Posting(
        account_id="A1",
        kind=kind,
        effective_at=_at(day),
        source=Source.IMPORT,
        idempotency_key=key,
        amount_minor=amount,
        currency="CNY",
        component=component,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def _store(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO customers (customer_id) VALUES ('C1')"))
        conn.execute(
            text(
                "INSERT INTO accounts (account_id, customer_id, currency, credit_limit_minor)"
                " VALUES ('A1', 'C1', 'CNY', 1000000)"
            )
        )
    engine.dispose()


POSTINGS = [
    _posting("p1", Kind.PURCHASE, 10_000, 2),
    _posting("f1", Kind.LATE_FEE, 500, 3, component=Component.FEES),
    _posting("w1", Kind.FEE_WAIVER, -250, 4, component=Component.FEES, reference="f1"),
    _posting("pay1", Kind.PAYMENT, -3_000, 5),
    _posting("lim1", Kind.LIMIT_CHANGE, None, 6, detail='{"old": 1000000, "new": 800000}'),
]


def test_writing_the_same_postings_twice_adds_them_once(store_url: str) -> None:
    _store(store_url)
    engine = make_engine(store_url)
    with engine.begin() as conn:
        assert ledger.insert_postings(conn, POSTINGS) == 5
    with engine.begin() as conn:
        assert ledger.insert_postings(conn, POSTINGS[::-1]) == 0
        assert not ledger.append_posting(conn, POSTINGS[0])
    assert ledger.posting_count(engine) == 5
    engine.dispose()


def test_an_account_reads_back_its_postings_and_balances_as_of_a_day(store_url: str) -> None:
    _store(store_url)
    engine = make_engine(store_url)
    with engine.begin() as conn:
        ledger.insert_postings(conn, POSTINGS)
    with engine.connect() as conn:
        back = ledger.account_postings(conn, "A1")
        assert back["idempotency_key"].to_list() == ["p1", "f1", "w1", "pay1", "lim1"]
        assert back["effective_at"][0] == _at(2).astimezone(dt.UTC)
        assert back["effective_on"][0] == dt.date(2026, 3, 2)
        assert check_postings(back).height == 0
        assert ledger.account_balance(conn, "A1", dt.date(2026, 3, 4)) == {
            "principal": 10_000,
            "interest": 0,
            "fees": 250,
            "total": 10_250,
        }
        assert ledger.account_balance(conn, "A1")["total"] == 7_250
        assert ledger.account_postings(conn, "A1", dt.date(2026, 3, 3)).height == 2
        table = ledger.balances_as_of(conn, dt.date(2026, 3, 5))
        assert table.row(0, named=True) == {
            "account_id": "A1",
            "principal": 7_000,
            "interest": 0,
            "fees": 250,
            "total": 7_250,
        }
    chunks = list(ledger.iter_account_postings(engine))
    assert [(p.height, s.height) for p, s in chunks] == [(5, 0)]
    engine.dispose()


def test_the_first_statement_fixes_the_opening_balance_once(store_url: str) -> None:
    _store(store_url)
    engine = make_engine(store_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO statements (account_id, cycle_date, statement_balance_minor,"
                " amount_paid_minor) VALUES ('A1', '2026-03-31', 50000, 3000)"
            )
        )
        ledger.insert_postings(
            conn,
            [*POSTINGS, _posting("s1", Kind.STATEMENT_ISSUED, 50_000, 31, component=None)],
        )
        added = conn.execute(text(ledger.opening_balances_sql(conn.dialect.name))).rowcount
        assert added == 1
    with engine.begin() as conn:
        conn.execute(text(ledger.opening_balances_sql(conn.dialect.name)))
    with engine.connect() as conn:
        back = ledger.account_postings(conn, "A1")
        opening = back.filter(back["kind"] == "opening_balance")
        assert opening["amount_minor"].to_list() == [50_000 - 7_250]
        assert opening["effective_on"].to_list() == [dt.date(2026, 3, 2)]
        assert check_postings(back).height == 0
    engine.dispose()


def test_an_account_with_statements_only_opens_at_its_first_statement(store_url: str) -> None:
    _store(store_url)
    engine = make_engine(store_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO statements (account_id, cycle_date, statement_balance_minor,"
                " amount_paid_minor) VALUES ('A1', '2026-03-31', 50000, 0),"
                " ('A1', '2026-04-30', 20000, 30000)"
            )
        )
        conn.execute(text(ledger.opening_balances_sql(conn.dialect.name)))
    with engine.connect() as conn:
        back = ledger.account_postings(conn, "A1")
    engine.dispose()
    assert back.select("kind", "amount_minor", "effective_on").rows() == [
        ("opening_balance", 50_000, dt.date(2026, 3, 31))
    ]
    assert back["effective_at"][0] == dt.datetime(2026, 3, 31, tzinfo=dt.UTC)
    statements = pl.DataFrame(
        {
            "account_id": ["A1", "A1"],
            "cycle_date": [dt.date(2026, 3, 31), dt.date(2026, 4, 30)],
            "statement_balance_minor": [50_000, 20_000],
        }
    )
    # The April movement has no posting to explain it (no transactions, no payments).
    found = check_postings(back, statements=statements)
    assert found.select("invariant", "detail").rows() == [
        ("statement_mismatch", "statement states 20000, postings sum to 50000")
    ]


def test_an_opening_balance_never_takes_effect_after_the_first_statement(store_url: str) -> None:
    _store(store_url)
    engine = make_engine(store_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO statements (account_id, cycle_date, statement_balance_minor,"
                " amount_paid_minor) VALUES ('A1', '2026-02-28', -4550, 0)"
            )
        )
        ledger.insert_postings(conn, POSTINGS[:1])  # a purchase on 2 March, after it
        conn.execute(text(ledger.opening_balances_sql(conn.dialect.name)))
    with engine.connect() as conn:
        back = ledger.account_postings(conn, "A1")
    engine.dispose()
    assert back.select("kind", "amount_minor", "effective_on").rows()[0] == (
        "opening_balance",
        -4550,
        dt.date(2026, 2, 28),
    )


def test_a_stored_payment_is_posted_to_the_ledger_once(store_url: str) -> None:
    from cardpilot.store.payments import Payment, insert_payments

    _store(store_url)
    engine = make_engine(store_url)
    paid = Payment("T9", "A1", dt.datetime(2026, 3, 9, 0, 30, tzinfo=ZONE), 12_345, "CNY")
    insert_payments(engine, [paid])
    with engine.connect() as conn:
        back = ledger.account_postings(conn, "A1")
    engine.dispose()
    assert back.select("kind", "amount_minor", "effective_on", "idempotency_key").rows() == [
        ("payment", -12_345, dt.date(2026, 3, 9), "tx:T9")  # the Shanghai day, not UTC's 8th
    ]
