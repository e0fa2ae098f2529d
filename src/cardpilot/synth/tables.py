"""Synthetic blocks (:mod:`cardpilot.synth.blocks`) as the generic layout's Arrow tables."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cardpilot.synth import people
from cardpilot.synth.blocks import (
    CASH_MCC,
    CURRENCY,
    DECIMAL,
    GRACE_DAYS,
    KINDS,
    LABEL,
    MCC_WEIGHTS,
    TIMEZONE,
    UTC_OFFSET_US,
    Block,
    BoolArray,
    DateArray,
    IntArray,
    decimal_from_fen,
)
from cardpilot.synth.copula import CopulaModel

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


def _labels_of(codes: IntArray, labels: dict[int, str]) -> pa.Array:
    keys = sorted(labels)
    lookup = pa.array([labels[k] for k in keys], type=pa.string())
    return lookup.take(pa.array(np.searchsorted(keys, codes)))


def customers_table(b: Block, model: CopulaModel) -> pa.Table:
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


def accounts_table(b: Block) -> pa.Table:
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


def statements_table(b: Block, cycles: DateArray) -> pa.Table:
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


def labels_table(b: Block, observed_on: dt.date) -> pa.Table:
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


def _transaction_amounts(
    b: Block, rng: np.random.Generator
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Each cycle's amounts split into transactions: (cycle row, amount, kind, position)."""
    n, months = b.status.shape
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
    return (
        np.concatenate(rows_owner),
        np.concatenate(rows_amount),
        np.concatenate(rows_kind),
        np.concatenate(rows_pos),
    )


def _posting_times(
    cycles: DateArray, month: IntArray, kind_code: IntArray, rng: np.random.Generator
) -> IntArray:
    """Microseconds since the epoch (UTC) of each transaction of cycle ``month``.

    Spending on a random day of the cycle; payments in the days before the previous cycle's
    due date; interest and charges on the cycle date itself.
    """
    total = month.shape[0]
    cycle_days = cycles.astype(np.int64)
    window_end = cycle_days[month]
    # The cycle before the first one ended on the last day of the previous month.
    before_first = cycles[0].astype("datetime64[M]").astype("datetime64[D]") - 1
    previous_cycle = np.r_[before_first.astype(np.int64), cycle_days[:-1]]
    window_start = previous_cycle[month] + 1
    window_len = window_end - window_start + 1
    offset = np.floor(rng.random(total) * window_len).astype(np.int64)
    day = np.asarray(window_start + offset, dtype=np.int64)
    seconds = np.asarray(rng.integers(8 * 3600, 23 * 3600, total), dtype=np.int64)
    is_payment = kind_code == 2
    due_day = previous_cycle[month] + GRACE_DAYS - rng.integers(0, 10, total)
    day = np.where(is_payment, np.clip(due_day, window_start, window_end), day)
    is_charge = (kind_code == 3) | (kind_code == 4)
    day = np.where(is_charge, window_end, day)
    seconds = np.where(is_charge, 23 * 3600 + 50 * 60, seconds)
    return np.asarray((day * 86_400 + seconds) * 1_000_000 - UTC_OFFSET_US, dtype=np.int64)


def transactions_table(b: Block, cycles: DateArray, rng: np.random.Generator) -> pa.Table:
    n, months = b.status.shape
    account = np.repeat(b.index, months)
    month = np.tile(np.arange(months), n)
    owner, amount, kind_code, position = _transaction_amounts(b, rng)
    total = owner.shape[0]
    posted_us = _posting_times(cycles, month[owner], kind_code, rng)

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
