"""Properties of the ledger over random event sequences: charges, payments, waivers from two
sources, plans kept and broken, statements, replays and duplicates."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from cardpilot.ledger.balances import (
    COMPONENTS,
    balance_of,
    balance_of_rows,
    balances,
    money_postings,
)
from cardpilot.ledger.invariants import check_postings
from cardpilot.ledger.postings import (
    Component,
    Kind,
    Posting,
    Source,
    first_per_key,
    postings_frame,
)
from cardpilot.ledger.waivers import unwaived, waive

ZONE = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 1, 1, tzinfo=ZONE)

amounts = st.integers(min_value=1, max_value=5_000_00)
actions = st.one_of(
    st.tuples(st.just("purchase"), amounts),
    st.tuples(st.just("payment"), amounts),
    st.tuples(st.just("late_fee"), amounts),
    st.tuples(st.just("penalty"), amounts),
    st.tuples(st.just("waive"), st.integers(min_value=1, max_value=10_000)),  # share in bp
    st.tuples(st.just("plan_waive"), st.integers(min_value=1, max_value=10_000)),
    st.tuples(st.just("plan_kept"), amounts),
    st.tuples(st.just("plan_broken"), amounts),
    st.tuples(st.just("reverse_fee"), st.just(0)),
    st.tuples(st.just("statement"), st.just(0)),
)
accounts = st.lists(st.lists(actions, max_size=25), min_size=1, max_size=4)


class Story:
    """Turns actions into postings through the domain (waivers capped by ``waive``)."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.postings: list[Posting] = []
        self.day = 0
        self.plan_waivers: list[Posting] = []

    def frame(self) -> pl.DataFrame:
        return postings_frame(self.postings)

    def post(
        self, kind: Kind, amount: int | None, component: Component | None, **kw: object
    ) -> Posting:
        self.day += 1
        posting = Posting(
            account_id=self.account,
            kind=kind,
            effective_at=START + dt.timedelta(days=self.day),
            source=kw.pop("source", Source.EVENT),  # type: ignore[arg-type]
            idempotency_key=f"{self.account}:{len(self.postings)}:{kind}",
            amount_minor=amount,
            currency="CNY",
            component=component,
            **kw,  # type: ignore[arg-type]
        )
        self.postings.append(posting)
        return posting

    def fees(self) -> list[str]:
        return [
            p.idempotency_key
            for p in self.postings
            if p.kind in (Kind.LATE_FEE, Kind.PENALTY_INTEREST)
        ]

    def waive_last_fee(self, share_bp: int, source: Source) -> Posting | None:
        fees = self.fees()
        if not fees:
            return None
        frame = self.frame()
        target = fees[-1]
        charged = int(frame.filter(pl.col("idempotency_key") == target)["amount_minor"][0])
        self.day += 1
        waiver = waive(
            frame,
            target,
            charged * share_bp // 10_000,
            key=f"{self.account}:{len(self.postings)}:waiver",
            effective_at=START + dt.timedelta(days=self.day),
            source=source,
        )
        if waiver is not None:
            self.postings.append(waiver)
        return waiver

    def act(self, action: str, value: int) -> None:
        P, INT, F = Component.PRINCIPAL, Component.INTEREST, Component.FEES
        if action == "purchase":
            self.post(Kind.PURCHASE, value, P)
        elif action == "payment":
            self.post(Kind.PAYMENT, -value, P)
        elif action == "late_fee":
            self.post(Kind.LATE_FEE, value, F)
        elif action == "penalty":
            self.post(Kind.PENALTY_INTEREST, value, INT, basis=P)
        elif action == "waive":
            self.waive_last_fee(value, Source.DECISION)
        elif action == "plan_waive":
            waiver = self.waive_last_fee(value, Source.PLAN_EVENT)
            if waiver is not None:
                self.plan_waivers.append(waiver)
        elif action in ("plan_kept", "plan_broken"):
            due = self.post(Kind.INSTALMENT_DUE, value, None, reference="plan-1")
            paid = value if action == "plan_kept" else value // 3
            if paid:
                self.post(Kind.PAYMENT, -paid, P)
                self.post(Kind.INSTALMENT_PAID, paid, None, reference=due.idempotency_key)
            if action == "plan_broken" and self.plan_waivers:
                # A broken plan takes back what it waived.
                waiver = self.plan_waivers.pop()
                assert waiver.amount_minor is not None
                assert waiver.component is not None
                self.post(
                    Kind.FEE_REINSTATEMENT,
                    -waiver.amount_minor,
                    waiver.component,
                    reference=waiver.reference,
                    source=Source.PLAN_EVENT,
                )
        elif action == "reverse_fee":
            fees = self.fees()
            if fees:
                left = unwaived(self.frame(), fees[0])
                if left > 0:
                    fee = next(p for p in self.postings if p.idempotency_key == fees[0])
                    self.post(Kind.REVERSAL, -left, fee.component, reference=fees[0])
        elif action == "statement":
            total = int(money_postings(self.frame())["amount_minor"].sum() or 0)
            self.post(Kind.STATEMENT_ISSUED, total, None, source=Source.IMPORT)


def ledger_of(stories: list[list[tuple[str, int]]]) -> list[Posting]:
    postings: list[Posting] = []
    for n, story_actions in enumerate(stories):
        story = Story(f"A{n}")
        for action, value in story_actions:
            story.act(action, value)
        postings.extend(story.postings)
    return postings


@settings(max_examples=150, deadline=None)
@given(accounts)
def test_random_histories_keep_every_invariant(stories: list[list[tuple[str, int]]]) -> None:
    frame = postings_frame(ledger_of(stories))
    violations = check_postings(frame)
    assert violations.height == 0, violations.to_dicts()


@settings(max_examples=150, deadline=None)
@given(accounts)
def test_waived_never_exceeds_charged_for_any_fee(stories: list[list[tuple[str, int]]]) -> None:
    frame = postings_frame(ledger_of(stories))
    fees = frame.filter(pl.col("kind").is_in(["late_fee", "penalty_interest"]))
    for key, charged in zip(fees["idempotency_key"], fees["amount_minor"], strict=True):
        waived = -int(
            frame.filter(
                (pl.col("reference") == key)
                & pl.col("kind").is_in(["fee_waiver", "fee_reinstatement"])
            )["amount_minor"].sum()
            or 0
        )
        assert 0 <= waived <= charged


@settings(max_examples=150, deadline=None)
@given(accounts)
def test_balances_are_the_sums_of_postings(stories: list[list[tuple[str, int]]]) -> None:
    postings = ledger_of(stories)
    frame = postings_frame(postings)
    table = balances(frame)
    for row in table.iter_rows(named=True):
        mine = [p for p in postings if p.account_id == row["account_id"]]
        for component in COMPONENTS:
            expected = sum(
                p.amount_minor or 0
                for p in mine
                if p.component == component and p.kind not in _MEMOS
            )
            assert row[component] == expected
        assert row["total"] == sum(row[c] for c in COMPONENTS)


_MEMOS = {Kind.INSTALMENT_DUE, Kind.INSTALMENT_PAID, Kind.STATEMENT_ISSUED}


@settings(max_examples=100, deadline=None)
@given(accounts)
def test_one_accounts_balance_from_its_rows_equals_the_frames(
    stories: list[list[tuple[str, int]]],
) -> None:
    frame = postings_frame(ledger_of(stories))
    for account in sorted(set(frame["account_id"])):
        rows = frame.filter(pl.col("account_id") == account).to_dicts()
        assert balance_of_rows(rows) == balance_of(frame, account)


@settings(max_examples=100, deadline=None)
@given(accounts, st.data())
def test_replaying_the_same_events_gives_the_same_ledger(
    stories: list[list[tuple[str, int]]], data: st.DataObject
) -> None:
    postings = ledger_of(stories)
    once = first_per_key(postings_frame(postings))
    replayed = data.draw(st.permutations(postings)) if postings else []
    duplicates = data.draw(st.lists(st.sampled_from(postings), max_size=20)) if postings else []
    twice = first_per_key(postings_frame([*postings, *duplicates, *replayed]))
    assert twice.equals(once)
    assert balances(twice).equals(balances(once))
    assert check_postings(twice).height == 0


def test_a_second_source_cannot_waive_what_the_first_already_waived() -> None:
    story = Story("A")
    story.act("late_fee", 54_779)
    story.act("waive", 5_000)  # the treatment's 50 %
    story.act("plan_waive", 5_000)  # the plan's 50 % of the same fee
    waived = -sum(p.amount_minor or 0 for p in story.postings if p.kind is Kind.FEE_WAIVER)
    assert waived == 27_389 * 2  # each half rounded down: together never over the charge
    story.act("plan_waive", 5_000)  # only the fen left by the rounding
    story.act("waive", 5_000)  # nothing is left to waive
    waivers = [p.amount_minor for p in story.postings if p.kind is Kind.FEE_WAIVER]
    assert waivers == [-27_389, -27_389, -1]


def test_a_waiver_over_the_charge_is_a_violation() -> None:
    story = Story("A")
    fee = story.post(Kind.LATE_FEE, 1_000, Component.FEES)
    story.post(Kind.FEE_WAIVER, -600, Component.FEES, reference=fee.idempotency_key)
    story.post(Kind.FEE_WAIVER, -600, Component.FEES, reference=fee.idempotency_key)
    found = check_postings(story.frame())
    assert found["invariant"].to_list() == ["waived_over_charged"]
    assert "waived 1200 of 1000" in found["detail"][0]


def test_interest_on_fees_and_compounded_penalty_are_violations() -> None:
    story = Story("A")
    story.post(Kind.PENALTY_INTEREST, 10, Component.INTEREST, basis=Component.FEES)
    story.post(Kind.PENALTY_INTEREST, 10, Component.INTEREST, basis=Component.INTEREST)
    story.post(Kind.INTEREST, 10, Component.INTEREST, basis=Component.INTEREST)
    found = check_postings(story.frame())
    assert sorted(found["invariant"].to_list()) == ["compounding", "interest_on_fees"]


def test_a_statement_that_disagrees_with_the_postings_is_a_violation() -> None:
    story = Story("A")
    story.post(Kind.PURCHASE, 1_000, Component.PRINCIPAL)
    story.post(Kind.STATEMENT_ISSUED, 900, None)
    found = check_postings(story.frame())
    assert found["invariant"].to_list() == ["statement_mismatch"]
