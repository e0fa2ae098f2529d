"""One block of synthetic accounts as numbers: people, limits and cycles, in integer fen.

Drawn from the copula (:mod:`cardpilot.synth.copula`); turned into tables by
:mod:`cardpilot.synth.tables`. The statement policy is described in
:mod:`cardpilot.synth.generate`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from cardpilot.synth import people
from cardpilot.synth.copula import (
    AccountDraw,
    CopulaModel,
    default_features,
    default_probability,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
DateArray = npt.NDArray[np.datetime64]

BLOCK = 1_000
DEFAULT_CHUNK = 100_000
TX_PART_ACCOUNTS = 10_000  # transactions are ~100 rows per account: smaller parts
TABLES = ("customers", "accounts", "statements", "transactions", "labels")
LABEL = "default_next_month"
CURRENCY = "CNY"
TIMEZONE = "Asia/Shanghai"
UTC_OFFSET_US = 8 * 3600 * 1_000_000

MIN_DUE_RATE = 0.10
MIN_DUE_FLOOR_FEN = 100_00
DAILY_INTEREST = 0.0005
LATE_CHARGE_RATE = 0.05
GRACE_DAYS = 20
# Merchant category codes (ISO 18245) of card purchases, weighted like a consumer portfolio.
MCC_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("5411", 18), ("5812", 14), ("5814", 8), ("5541", 7), ("5311", 6), ("5999", 9),
    ("4121", 5), ("5732", 4), ("5691", 5), ("5912", 4), ("4900", 4), ("4511", 2),
    ("7011", 2), ("7832", 2), ("5977", 3), ("8062", 2), ("8220", 1), ("4814", 4),
)  # fmt: skip
CASH_MCC = "6011"
KINDS = ("purchase", "cash_advance", "payment", "fee", "interest", "refund")

DECIMAL = pa.decimal128(18, 2)


def decimal_from_fen(fen: IntArray, valid: BoolArray | None = None) -> pa.Array:
    """decimal(18,2) yuan from int64 fen, exactly: the fen value *is* the unscaled decimal."""
    fen = np.ascontiguousarray(fen, dtype=np.int64)
    words = np.empty((fen.shape[0], 2), dtype=np.int64)
    words[:, 0] = fen
    words[:, 1] = fen >> 63  # sign-extend to the 128-bit two's complement Arrow stores
    bitmap = None
    nulls = 0
    if valid is not None:
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
        nulls = int(valid.shape[0] - valid.sum())
    return pa.Array.from_buffers(
        DECIMAL, fen.shape[0], [bitmap, pa.py_buffer(words)], null_count=nulls
    )


def month_ends(end_cycle: dt.date, count: int) -> DateArray:
    """The ``count`` month-end dates up to ``end_cycle``, oldest first."""
    last = np.datetime64(end_cycle, "M")
    months = last - np.arange(count - 1, -1, -1)
    return np.asarray((months + 1).astype("datetime64[D]") - 1, dtype="datetime64[D]")


def last_month_end(today: dt.date) -> dt.date:
    return today.replace(day=1) - dt.timedelta(days=1)


@dataclass
class Block:
    index: IntArray  # 1-based account / customer numbers
    # customers
    surname: IntArray
    given1: IntArray
    given2: IntArray
    region: npt.NDArray[np.uint8]  # (n, 6) ASCII digits of the national id's region code
    birth_date: DateArray
    id_sequence: IntArray
    sex: IntArray
    education: IntArray
    marital: IntArray
    birth_year: IntArray
    phone_prefix: IntArray
    phone_number: IntArray
    has_phone: BoolArray
    email_number: IntArray
    email_domain: IntArray
    has_email: BoolArray
    income_fen: IntArray
    has_income: BoolArray
    english: BoolArray
    # accounts
    limit_fen: IntArray
    open_date: DateArray
    frozen: BoolArray
    temp_limit_fen: IntArray
    has_temp: BoolArray
    temp_expires: DateArray
    # statements (n, months)
    balance: IntArray
    paid: IntArray
    minimum_due: IntArray
    purchases: IntArray
    cash: IntArray
    interest: IntArray
    fees: IntArray
    refunds: IntArray
    status: IntArray
    # label
    default: BoolArray


def block_rngs(seed: int, block: int) -> tuple[np.random.Generator, np.random.Generator]:
    main, tx = np.random.SeedSequence(seed, spawn_key=(block,)).spawn(2)
    return np.random.default_rng(main), np.random.default_rng(tx)


@dataclass
class StatementAmounts:
    """One block's money per account (limits) and per cycle (the rest), in fen."""

    limit_yuan: FloatArray
    limit_fen: IntArray
    balance: IntArray
    paid: IntArray
    minimum_due: IntArray
    purchases: IntArray
    cash: IntArray
    interest: IntArray
    fees: IntArray
    refunds: IntArray


def _statement_amounts(
    model: CopulaModel, draw: AccountDraw, rng: np.random.Generator, months: int
) -> StatementAmounts:
    """Balances, payments, minimum due, interest, charges and new debits of each cycle, in
    fen, so that every cycle's balance follows from the previous one exactly."""
    n = int(draw.status.shape[0])
    limit_yuan = np.maximum(100.0, np.rint(draw.credit_limit_cny / 100.0) * 100.0)
    limit_fen = (limit_yuan * 100).astype(np.int64)

    balance = np.rint(draw.utilisation * limit_fen[:, None]).astype(np.int64)
    paid = np.rint(draw.payment_rate * limit_fen[:, None]).astype(np.int64)
    # A paid-in-full / no-consumption cycle is mostly followed by a payment of exactly its bill.
    p_full = np.zeros(draw.status.shape, dtype=np.float64)
    for code, rate in model.pay_in_full.items():
        p_full[draw.status == code] = rate
    settle = (balance[:, :-1] > 0) & (rng.random((n, months)) < p_full[:, :-1])
    paid[:, 1:] = np.where(settle, balance[:, :-1], paid[:, 1:])

    minimum_due = np.where(
        balance <= 0,
        0,
        np.minimum(balance, np.maximum(np.rint(balance * MIN_DUE_RATE), MIN_DUE_FLOOR_FEN)),
    ).astype(np.int64)
    previous, current, paid_now = balance[:, :-1], balance[:, 1:], paid[:, 1:]
    revolving = np.where(previous > 0, np.maximum(previous - paid_now, 0), 0)
    interest = np.rint(revolving * (DAILY_INTEREST * 30)).astype(np.int64)
    shortfall = np.maximum(minimum_due[:, :-1] - paid_now, 0)
    fees = np.rint(shortfall * LATE_CHARGE_RATE).astype(np.int64)
    spend = current - previous + paid_now - interest - fees
    new_debits = np.maximum(spend, 0)
    refunds = np.maximum(-spend, 0)
    cash_user = rng.random(n) < 0.08
    cash_share = rng.uniform(0.2, 0.7, n)
    cash_month = cash_user[:, None] & (rng.random((n, months)) < 0.5)
    cash = np.where(cash_month, np.rint(new_debits * cash_share[:, None]), 0).astype(np.int64)
    purchases = new_debits - cash
    return StatementAmounts(
        limit_yuan=limit_yuan,
        limit_fen=limit_fen,
        balance=current,
        paid=paid_now,
        minimum_due=minimum_due[:, 1:],
        purchases=purchases,
        cash=cash,
        interest=interest,
        fees=fees,
        refunds=refunds,
    )


def _birth_dates(
    age: IntArray, cycles: DateArray, rng: np.random.Generator
) -> tuple[IntArray, DateArray]:
    """Birth years (age at the last cycle) and a day drawn uniformly within each year."""
    end = cycles[-1].astype(dt.date)
    birth_year = end.year - age
    year_start = (birth_year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    year_len = (birth_year - 1969).astype("datetime64[Y]").astype("datetime64[D]") - year_start
    birth_date = year_start + np.floor(rng.random(age.shape[0]) * year_len.astype(np.int64)).astype(
        "timedelta64[D]"
    )
    return birth_year, birth_date


def draw_block(
    model: CopulaModel,
    rng: np.random.Generator,
    first: int,
    n: int,
    months: int,
    cycles: DateArray,
) -> Block:
    """Accounts ``first + 1 … first + n``: their people, limits and ``months`` cycles."""
    draw = model.draw(rng, n, months + 1)  # +1: the opening month before the history
    amounts = _statement_amounts(model, draw, rng, months)
    limit_yuan, limit_fen = amounts.limit_yuan, amounts.limit_fen
    features = default_features(
        draw.status, draw.utilisation, draw.payment_rate, draw.credit_limit_cny, draw.age
    )
    default = rng.random(n) < default_probability(model.params, features)

    birth_year, birth_date = _birth_dates(draw.age, cycles, rng)
    has_income = rng.random(n) < 0.55
    # Income is not in the UCI data: assume limits of roughly a quarter of annual income.
    income_yuan = np.maximum(
        12_000.0, np.rint(limit_yuan * rng.lognormal(np.log(4.0), 0.5, n) / 1000.0) * 1000.0
    )
    # Months on book: geometric, mean about 4 years, and the card opened at 18 or later.
    adult_months = np.maximum((draw.age - 18) * 12 - months - 1, 0)
    months_on_book = months + 1 + np.minimum(rng.geometric(1 / 48, n), adult_months)
    first_cycle_month = cycles[0].astype("datetime64[M]")
    open_date = (first_cycle_month - months_on_book).astype("datetime64[D]") + rng.integers(
        0, 28, n
    ).astype("timedelta64[D]")
    frozen = draw.status[:, -1] >= 4
    has_temp = (~frozen) & (rng.random(n) < 0.03)
    temp_limit_yuan = np.rint(limit_yuan * rng.uniform(1.1, 1.5, n) / 100.0) * 100.0
    temp_expires = cycles[-1] + rng.integers(15, 90, n).astype("timedelta64[D]")

    surname, given1, given2 = people.draw_name_parts(rng, n)
    index = np.arange(first + 1, first + n + 1, dtype=np.int64)
    # A region and sequence per account number, so no two customers share a national id; the
    # draws they replaced are still made, so every other column keeps its values for a seed.
    rng.integers(0, len(people.REGION_CODES), n)
    rng.integers(0, 1000, n)
    region, id_sequence = people.unique_region_and_sequence(index - 1)
    return Block(
        index=index,
        surname=surname,
        given1=given1,
        given2=given2,
        region=region,
        birth_date=birth_date,
        id_sequence=id_sequence,
        sex=draw.sex,
        education=draw.education,
        marital=draw.marital_status,
        birth_year=birth_year,
        phone_prefix=rng.integers(0, len(people.MOBILE_PREFIXES), n),
        phone_number=rng.integers(0, 100_000_000, n),
        has_phone=rng.random(n) < 0.97,
        email_number=rng.integers(10, 100_000, n),
        email_domain=rng.integers(0, len(people.EMAIL_DOMAINS), n),
        has_email=rng.random(n) < 0.6,
        income_fen=(income_yuan * 100).astype(np.int64),
        has_income=has_income,
        english=rng.random(n) < 0.02,
        limit_fen=limit_fen,
        open_date=open_date,
        frozen=frozen,
        temp_limit_fen=(temp_limit_yuan * 100).astype(np.int64),
        has_temp=has_temp,
        temp_expires=temp_expires,
        balance=amounts.balance,
        paid=amounts.paid,
        minimum_due=amounts.minimum_due,
        purchases=amounts.purchases,
        cash=amounts.cash,
        interest=amounts.interest,
        fees=amounts.fees,
        refunds=amounts.refunds,
        status=draw.status[:, 1:],
        default=default,
    )


def concat_blocks(blocks: list[Block]) -> Block:
    if len(blocks) == 1:
        return blocks[0]
    merged = {
        name: np.concatenate([getattr(b, name) for b in blocks])
        for name in Block.__dataclass_fields__
    }
    return Block(**merged)
