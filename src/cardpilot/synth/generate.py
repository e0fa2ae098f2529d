"""Generate a synthetic card portfolio in the generic Parquet layout (docs/CONTRACTS.md).

``generate_portfolio(options)`` writes ``customers/``, ``accounts/``, ``statements/``,
``labels/`` and (unless disabled) ``transactions/`` as folders of Parquet parts, plus
``synth.json`` describing the run. Amounts are Parquet decimal(18,2) in yuan, computed in
integer fen and converted exactly.

Determinism. Accounts are drawn in blocks of ``BLOCK`` accounts; block ``b`` draws from its own
random stream ``SeedSequence(seed, spawn_key=(b,))``. A chunk is a run of whole blocks, so the
rows written for a given ``(accounts, seed, months, end_cycle)`` are the same whatever the
chunk size (only the split into part files changes); chunk sizes are rounded up to a multiple of
``BLOCK``. Memory is bounded by one chunk (default 100,000 accounts) whatever the portfolio size.
Parts are written atomically and ``synth.json`` records the run, so an interrupted run can be
finished with ``resume=True``: complete chunks are kept, the rest is generated.

Statement policy (synthetic, documented so results can be read):

* cycles end on the last day of each month, ending at ``end_cycle``; due date = cycle + 20 days
  (as in the UCI mapping);
* balances and payments come from the copula as fractions of the limit; limits are rounded to
  100 yuan; a history of ``months`` cycles is drawn with one extra month before it that only
  provides the opening balance;
* minimum due = 10 % of a positive balance, at least 100 yuan, never more than the balance
  (common practice of Chinese issuers);
* interest on the part of the previous balance not repaid: 0.05 % a day for 30 days (the
  customary daily rate); late charge (违约金) 5 % of the unpaid part of the previous minimum;
* new purchases and cash advances = balance change + payment − interest − charges; when that is
  negative the difference is a refund/credit, so every cycle satisfies exactly
  ``balance = previous balance − paid + purchases + cash advances + interest + fees − refunds``,
  and transactions of each kind add up exactly to the statement's figures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cardpilot.synth import people
from cardpilot.synth.copula import (
    CopulaModel,
    default_features,
    default_probability,
    shipped_model,
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
SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema([
        ("customer_id", pa.string()), ("name", pa.string()), ("national_id", pa.string()),
        ("phone", pa.string()), ("email", pa.string()), ("birth_year", pa.int16()),
        ("education", pa.string()), ("sex", pa.string()), ("marital_status", pa.string()),
        ("annual_income", DECIMAL), ("locale", pa.string()), ("timezone", pa.string()),
    ]),
    "accounts": pa.schema([
        ("account_id", pa.string()), ("customer_id", pa.string()), ("currency", pa.string()),
        ("credit_limit", DECIMAL), ("open_date", pa.date32()), ("status", pa.string()),
        ("temp_limit", DECIMAL), ("temp_limit_expires_on", pa.date32()),
    ]),
    "statements": pa.schema([
        ("account_id", pa.string()), ("cycle_date", pa.date32()), ("due_date", pa.date32()),
        ("credit_limit", DECIMAL), ("statement_balance", DECIMAL), ("minimum_due", DECIMAL),
        ("amount_paid", DECIMAL), ("purchases", DECIMAL), ("cash_advances", DECIMAL),
        ("repayment_status", pa.int16()), ("days_past_due", pa.int32()),
    ]),
    "transactions": pa.schema([
        ("transaction_id", pa.string()), ("account_id", pa.string()),
        ("posted_at", pa.timestamp("us", tz=TIMEZONE)), ("kind", pa.string()),
        ("amount", DECIMAL), ("currency", pa.string()), ("merchant_category", pa.string()),
    ]),
    "labels": pa.schema([
        ("account_id", pa.string()), ("label", pa.string()), ("observed_on", pa.date32()),
        ("value", pa.bool_()),
    ]),
}  # fmt: skip


class GenerateError(ValueError):
    """Options or an output folder the generator cannot use."""


@dataclass(frozen=True)
class GenerateOptions:
    accounts: int
    out: Path
    seed: int = 42
    months: int = 12
    transactions: bool = True
    chunk_size: int = DEFAULT_CHUNK
    end_cycle: dt.date | None = None  # default: the last month end before today
    overwrite: bool = False
    resume: bool = False  # finish an interrupted run with the same options


@dataclass
class GenerateResult:
    out: Path
    accounts: int
    seed: int
    months: int
    end_cycle: dt.date
    chunk_size: int
    rows: dict[str, int] = field(default_factory=dict)
    parts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "accounts": self.accounts,
            "seed": self.seed,
            "months": self.months,
            "end_cycle": self.end_cycle.isoformat(),
            "chunk_size": self.chunk_size,
            "rows": dict(self.rows),
            "parts": dict(self.parts),
            "seconds": round(self.seconds, 3),
        }


# --- exact money and string columns -------------------------------------------------------


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


# --- one block of accounts: numbers only --------------------------------------------------


@dataclass
class Block:
    index: IntArray  # 1-based account / customer numbers
    # customers
    surname: IntArray
    given1: IntArray
    given2: IntArray
    region: IntArray
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


def _block_rngs(seed: int, block: int) -> tuple[np.random.Generator, np.random.Generator]:
    main, tx = np.random.SeedSequence(seed, spawn_key=(block,)).spawn(2)
    return np.random.default_rng(main), np.random.default_rng(tx)


def _draw_block(
    model: CopulaModel,
    rng: np.random.Generator,
    first: int,
    n: int,
    months: int,
    cycles: DateArray,
) -> Block:
    draw = model.draw(rng, n, months + 1)  # +1: the opening month before the history
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

    features = default_features(
        draw.status, draw.utilisation, draw.payment_rate, draw.credit_limit_cny, draw.age
    )
    default = rng.random(n) < default_probability(model.params, features)

    end = cycles[-1].astype(dt.date)
    birth_year = end.year - draw.age
    year_start = (birth_year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    year_len = (birth_year - 1969).astype("datetime64[Y]").astype("datetime64[D]") - year_start
    birth_date = year_start + np.floor(rng.random(n) * year_len.astype(np.int64)).astype(
        "timedelta64[D]"
    )

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
    return Block(
        index=np.arange(first + 1, first + n + 1, dtype=np.int64),
        surname=surname,
        given1=given1,
        given2=given2,
        region=rng.integers(0, len(people.REGION_CODES), n),
        birth_date=birth_date,
        id_sequence=rng.integers(0, 1000, n),
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
        balance=current,
        paid=paid_now,
        minimum_due=minimum_due[:, 1:],
        purchases=purchases,
        cash=cash,
        interest=interest,
        fees=fees,
        refunds=refunds,
        status=draw.status[:, 1:],
        default=default,
    )


def _concat(blocks: list[Block]) -> Block:
    if len(blocks) == 1:
        return blocks[0]
    merged = {
        name: np.concatenate([getattr(b, name) for b in blocks])
        for name in Block.__dataclass_fields__
    }
    return Block(**merged)


# --- tables -------------------------------------------------------------------------------


def _labels_of(codes: IntArray, labels: dict[int, str]) -> pa.Array:
    keys = sorted(labels)
    lookup = pa.array([labels[k] for k in keys], type=pa.string())
    return lookup.take(pa.array(np.searchsorted(keys, codes)))


def _customers(b: Block, model: CopulaModel) -> pa.Table:
    n = b.index.shape[0]
    phone = people.mobiles(b.phone_prefix, b.phone_number)
    email = people.emails(b.surname, b.email_number, b.email_domain)
    sex_labels = model.by_name["sex"].labels
    return pa.Table.from_arrays(
        [
            people.prefixed_ids("C", b.index, 10),
            people.names(b.surname, b.given1, b.given2),
            people.national_ids(b.region, b.birth_date, b.id_sequence, b.sex == 1),
            _mask(phone, b.has_phone),
            _mask(email, b.has_email),
            pa.array(b.birth_year.astype(np.int16)),
            _labels_of(b.education, model.by_name["education"].labels),
            _labels_of(b.sex, sex_labels),
            _labels_of(b.marital, model.by_name["marital_status"].labels),
            decimal_from_fen(b.income_fen, b.has_income),
            pa.array(np.where(b.english, "en", "zh-CN"), type=pa.string()),
            pa.repeat(pa.scalar(TIMEZONE), n),
        ],
        schema=SCHEMAS["customers"],
    )


def _mask(values: pa.Array, keep: BoolArray) -> pa.Array:
    return pc.if_else(pa.array(keep), values, pa.nulls(len(values), pa.string()))


def _accounts(b: Block) -> pa.Table:
    n = b.index.shape[0]
    return pa.Table.from_arrays(
        [
            people.prefixed_ids("A", b.index, 10),
            people.prefixed_ids("C", b.index, 10),
            pa.repeat(pa.scalar(CURRENCY), n),
            decimal_from_fen(b.limit_fen),
            pa.array(b.open_date),
            pa.array(np.where(b.frozen, "frozen", "active"), type=pa.string()),
            decimal_from_fen(b.temp_limit_fen, b.has_temp),
            pa.array(b.temp_expires, mask=~b.has_temp),
        ],
        schema=SCHEMAS["accounts"],
    )


def _statements(b: Block, cycles: DateArray) -> pa.Table:
    n, months = b.status.shape
    status = b.status.ravel()
    # CONTRACTS.md: codes -2..0 are not overdue; 1..8 months → 30·c days; 9+ → 270 days.
    dpd = np.where(status <= 0, 0, np.minimum(status, 9) * 30).astype(np.int32)
    limit = np.repeat(b.limit_fen, months)
    return pa.Table.from_arrays(
        [
            people.prefixed_ids("A", np.repeat(b.index, months), 10),
            pa.array(np.tile(cycles, n)),
            pa.array(np.tile(cycles + np.timedelta64(GRACE_DAYS, "D"), n)),
            decimal_from_fen(limit),
            decimal_from_fen(b.balance.ravel()),
            decimal_from_fen(b.minimum_due.ravel()),
            decimal_from_fen(b.paid.ravel()),
            decimal_from_fen(b.purchases.ravel()),
            decimal_from_fen(b.cash.ravel()),
            pa.array(status.astype(np.int16)),
            pa.array(dpd),
        ],
        schema=SCHEMAS["statements"],
    )


def _labels(b: Block, observed_on: dt.date) -> pa.Table:
    n = b.index.shape[0]
    return pa.Table.from_arrays(
        [
            people.prefixed_ids("A", b.index, 10),
            pa.repeat(pa.scalar(LABEL), n),
            pa.repeat(pa.scalar(observed_on, type=pa.date32()), n),
            pa.array(b.default),
        ],
        schema=SCHEMAS["labels"],
    )


def _split(
    rng: np.random.Generator, totals: IntArray, counts: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """Split each total (fen) into ``counts`` random non-negative parts that sum exactly."""
    owner = np.repeat(np.arange(totals.shape[0]), counts)
    weights = rng.exponential(size=owner.shape[0]) + 0.05
    share = weights / np.bincount(owner, weights, minlength=totals.shape[0])[owner]
    amounts = np.floor(totals[owner] * share).astype(np.int64)
    remainder = totals - np.bincount(owner, amounts, minlength=totals.shape[0]).astype(np.int64)
    starts = np.cumsum(counts) - counts
    has = counts > 0
    amounts[starts[has]] += remainder[has]
    position = np.arange(owner.shape[0]) - starts[owner]
    return owner, amounts, position


def _transactions(b: Block, cycles: DateArray, rng: np.random.Generator) -> pa.Table:
    n, months = b.status.shape
    account = np.repeat(b.index, months)
    month = np.tile(np.arange(months), n)
    cycle_days = cycles.astype(np.int64)
    window_end = cycle_days[month]
    # The cycle before the first one ended on the last day of the previous month.
    before_first = cycles[0].astype("datetime64[M]").astype("datetime64[D]") - 1
    previous_cycle = np.r_[before_first.astype(np.int64), cycle_days[:-1]]
    window_start = previous_cycle[month] + 1
    window_len = window_end - window_start + 1

    amounts_by_kind = (
        b.purchases.ravel(),
        b.cash.ravel(),
        b.paid.ravel(),
        b.fees.ravel(),
        b.interest.ravel(),
        b.refunds.ravel(),
    )
    purchase_count = np.clip(1 + rng.poisson(amounts_by_kind[0] / 40_000), 1, 40)
    counts_by_kind = (
        np.where(amounts_by_kind[0] > 0, purchase_count, 0),
        np.where(amounts_by_kind[1] > 0, 1 + (rng.random(n * months) < 0.3), 0),
        np.where(amounts_by_kind[2] > 0, 1 + (rng.random(n * months) < 0.15), 0),
        (amounts_by_kind[3] > 0).astype(np.int64),
        (amounts_by_kind[4] > 0).astype(np.int64),
        (amounts_by_kind[5] > 0).astype(np.int64),
    )
    rows_owner, rows_amount, rows_kind, rows_pos = [], [], [], []
    for kind, (totals, counts) in enumerate(zip(amounts_by_kind, counts_by_kind, strict=True)):
        owner, amounts, position = _split(rng, totals, counts.astype(np.int64))
        rows_owner.append(owner)
        rows_amount.append(amounts)
        rows_kind.append(np.full(owner.shape[0], kind, dtype=np.int64))
        rows_pos.append(position)
    owner = np.concatenate(rows_owner)
    amount = np.concatenate(rows_amount)
    kind_code = np.concatenate(rows_kind)
    position = np.concatenate(rows_pos)
    total = owner.shape[0]

    # Posting day: spending on a random day of the cycle; payments in the days before the
    # previous cycle's due date; interest and charges on the cycle date itself.
    offset = np.floor(rng.random(total) * window_len[owner]).astype(np.int64)
    day = np.asarray(window_start[owner] + offset, dtype=np.int64)
    seconds = np.asarray(rng.integers(8 * 3600, 23 * 3600, total), dtype=np.int64)
    is_payment = kind_code == 2
    due_day = previous_cycle[month[owner]] + GRACE_DAYS - rng.integers(0, 10, total)
    day = np.where(is_payment, np.clip(due_day, window_start[owner], window_end[owner]), day)
    is_charge = (kind_code == 3) | (kind_code == 4)
    day = np.where(is_charge, window_end[owner], day)
    seconds = np.where(is_charge, 23 * 3600 + 50 * 60, seconds)
    posted_us = (day * 86_400 + seconds) * 1_000_000 - UTC_OFFSET_US

    order = np.lexsort((posted_us, owner))
    owner, amount, kind_code, position, posted_us = (
        owner[order],
        amount[order],
        kind_code[order],
        position[order],
        posted_us[order],
    )
    mcc_codes = [code for code, _ in MCC_WEIGHTS]
    mcc_weights = np.array([w for _, w in MCC_WEIGHTS], dtype=np.float64)
    mcc_index = np.asarray(
        rng.choice(len(mcc_codes), size=total, p=mcc_weights / mcc_weights.sum()), dtype=np.int64
    )
    mcc_index = np.where(kind_code == 1, len(mcc_codes), mcc_index)
    has_mcc = (kind_code == 0) | (kind_code == 1)
    mcc_lookup = pa.array([*mcc_codes, CASH_MCC], type=pa.string())

    # T + account number (10) + cycle (2) + kind (1) + position within kind (2): unique.
    id_number = ((account[owner] * 100 + month[owner]) * 10 + kind_code) * 100 + position
    kinds = pa.array(list(KINDS), type=pa.string())
    return pa.Table.from_arrays(
        [
            people.prefixed_ids("T", id_number, 15),
            people.prefixed_ids("A", account[owner], 10),
            pa.Array.from_buffers(
                pa.timestamp("us", tz=TIMEZONE), total, [None, pa.py_buffer(posted_us)]
            ),
            kinds.take(pa.array(kind_code)),
            decimal_from_fen(amount),
            pa.repeat(pa.scalar(CURRENCY), total),
            _mask(mcc_lookup.take(pa.array(mcc_index)), has_mcc),
        ],
        schema=SCHEMAS["transactions"],
    )


# --- the run ------------------------------------------------------------------------------


MANIFEST = "synth.json"


def _run_identity(
    options: GenerateOptions, end_cycle: dt.date, chunk: int, digest: str
) -> dict[str, Any]:
    """What must match for an interrupted run to be resumed into the same folder."""
    return {
        "generator": "cardpilot.synth",
        "params": digest,
        "accounts": options.accounts,
        "seed": options.seed,
        "months": options.months,
        "end_cycle": end_cycle.isoformat(),
        "chunk_size": chunk,
        "transactions": options.transactions,
    }


def _prepare_out(options: GenerateOptions, identity: dict[str, Any]) -> None:
    out = options.out
    manifest_path = out / MANIFEST
    if options.resume:
        if not manifest_path.exists():
            raise GenerateError(f"{out}: nothing to resume (no {MANIFEST}); run without --resume")
        previous = json.loads(manifest_path.read_text(encoding="utf-8"))
        changed = [k for k, v in identity.items() if previous.get(k) != v]
        if changed:
            raise GenerateError(
                f"{out}: cannot resume, the earlier run used different {', '.join(changed)}; "
                "repeat its options or use --overwrite"
            )
        return
    existing = [t for t in TABLES if (out / t).exists() and any((out / t).iterdir())]
    if existing and not options.overwrite:
        raise GenerateError(
            f"{out}: already holds {', '.join(existing)}; choose an empty folder, pass "
            "--resume to finish an interrupted run or --overwrite to replace them"
        )
    for table in TABLES:
        if (out / table).exists():
            shutil.rmtree(out / table)
    out.mkdir(parents=True, exist_ok=True)
    _write_manifest(out, {**identity, "complete": False})


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out / MANIFEST)


def _write(table: pa.Table, path: Path) -> None:
    """Write a part atomically: a part file that exists is complete (resume relies on it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd", compression_level=1)
    os.replace(tmp, path)


def _count_existing(out: Path, chunk_index: int, result: GenerateResult) -> None:
    """Add an already written chunk's rows to the totals (from Parquet footers only)."""
    for name in result.rows:
        pattern = f"part-{chunk_index:05d}{'-*' if name == 'transactions' else ''}.parquet"
        for part in (out / name).glob(pattern):
            result.rows[name] += pq.read_metadata(part).num_rows
            result.parts[name] += 1


def params_digest(model: CopulaModel) -> str:
    return hashlib.sha256(json.dumps(model.params, sort_keys=True).encode()).hexdigest()[:16]


def generate_portfolio(
    options: GenerateOptions,
    model: CopulaModel | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> GenerateResult:
    """Write a synthetic portfolio of ``options.accounts`` accounts to ``options.out``."""
    if options.accounts < 1:
        raise GenerateError("--accounts must be at least 1")
    if not 1 <= options.months <= 60:
        raise GenerateError("--months must be between 1 and 60")
    if options.chunk_size < 1:
        raise GenerateError("--chunk-size must be at least 1")
    model = model or shipped_model()
    end_cycle = options.end_cycle or last_month_end(dt.date.today())
    if month_ends(end_cycle, 1)[0].astype(dt.date) != end_cycle:
        raise GenerateError(f"end cycle {end_cycle}: cycles end on the last day of a month")
    chunk = -(-options.chunk_size // BLOCK) * BLOCK
    cycles = month_ends(end_cycle, options.months)
    observed_on = month_ends(end_cycle + dt.timedelta(days=1), 1)[0].astype(dt.date)
    identity = _run_identity(options, end_cycle, chunk, params_digest(model))
    _prepare_out(options, identity)

    result = GenerateResult(
        options.out, options.accounts, options.seed, options.months, end_cycle, chunk
    )
    tables = [t for t in TABLES if options.transactions or t != "transactions"]
    result.rows = dict.fromkeys(tables, 0)
    result.parts = dict.fromkeys(tables, 0)
    started = time.perf_counter()
    n_blocks = -(-options.accounts // BLOCK)
    blocks_per_chunk = chunk // BLOCK
    for chunk_index, first_block in enumerate(range(0, n_blocks, blocks_per_chunk)):
        done = min(options.accounts, (first_block + blocks_per_chunk) * BLOCK)
        # Labels are written last in a chunk, so their part marks the chunk as complete.
        if options.resume and (options.out / "labels" / f"part-{chunk_index:05d}.parquet").exists():
            _count_existing(options.out, chunk_index, result)
            if on_progress is not None:
                on_progress(done)
            continue
        drawn: list[Block] = []
        tx_tables: list[pa.Table] = []
        tx_part = 0
        tx_accounts = 0
        for block in range(first_block, min(first_block + blocks_per_chunk, n_blocks)):
            first = block * BLOCK
            size = min(BLOCK, options.accounts - first)
            main_rng, tx_rng = _block_rngs(options.seed, block)
            one = _draw_block(model, main_rng, first, size, options.months, cycles)
            drawn.append(one)
            if options.transactions:
                tx_tables.append(_transactions(one, cycles, tx_rng))
                tx_accounts += size
                if tx_accounts >= TX_PART_ACCOUNTS:
                    _flush_tx(options.out, chunk_index, tx_part, tx_tables, result)
                    tx_part, tx_tables, tx_accounts = tx_part + 1, [], 0
        if tx_tables:
            _flush_tx(options.out, chunk_index, tx_part, tx_tables, result)
        merged = _concat(drawn)
        outputs = {
            "customers": _customers(merged, model),
            "accounts": _accounts(merged),
            "statements": _statements(merged, cycles),
            "labels": _labels(merged, observed_on),
        }
        for name, table in outputs.items():
            _write(table, options.out / name / f"part-{chunk_index:05d}.parquet")
            result.rows[name] += table.num_rows
            result.parts[name] += 1
        del drawn, merged, outputs
        if on_progress is not None:
            on_progress(done)
    result.seconds = time.perf_counter() - started
    summary = result.as_dict()
    _write_manifest(
        options.out,
        {**identity, "complete": True, "rows": summary["rows"], "parts": summary["parts"]},
    )
    return result


def _flush_tx(
    out: Path, chunk_index: int, part: int, tables: list[pa.Table], result: GenerateResult
) -> None:
    table = pa.concat_tables(tables)
    _write(table, out / "transactions" / f"part-{chunk_index:05d}-{part:03d}.parquet")
    result.rows["transactions"] += table.num_rows
    result.parts["transactions"] += 1
