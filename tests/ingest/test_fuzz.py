"""Any bytes in, no crash out: every layout check either rejects rows or fails with one clear
error (``SourceError``) and writes nothing.

Hypothesis writes CSV files from a hostile alphabet (quotes, line breaks, NUL, fullwidth and
Arabic-Indic digits, formula starts, invalid UTF-8) and Parquet files of any column type and
value (and corrupted bytes). Readers run many examples; whole imports into a store fewer, each
checked to add nothing when it fails.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from cardpilot.config import Settings
from cardpilot.ingest.generic import GenericReader
from cardpilot.ingest.problems import SourceError
from cardpilot.ingest.uci import COLUMNS, read_uci
from cardpilot.jobs.importing import import_portfolio
from cardpilot.privacy import FieldCipher
from cardpilot.store.db import make_engine, open_store

READER_EXAMPLES = 60
IMPORT_EXAMPLES = 20
TODAY = dt.date(2026, 1, 15)

_HOSTILE = list('0123456789,,,,"\n\r .-+eE=@\t\x00é２٣中')
cells = st.text(alphabet=st.sampled_from(_HOSTILE), max_size=12)
lines = st.lists(cells, min_size=0, max_size=28).map(",".join)
csv_text = st.lists(lines, max_size=8).map("\n".join)
# Valid text, or bytes no encoding promises anything about.
csv_body = st.one_of(
    csv_text.map(lambda s: s.encode("utf-8")),
    st.binary(max_size=300),
    csv_text.map(lambda s: s.encode("gb18030", errors="replace")),
)

STATEMENT_HEADER = (
    "account_id,cycle_date,due_date,statement_balance,amount_paid,repayment_status,days_past_due"
)
GOOD_CUSTOMERS = "customer_id\nC1\n"
GOOD_ACCOUNTS = "account_id,customer_id,currency,credit_limit\nA1,C1,CNY,100\n"


def _assert_one_line(exc: SourceError) -> None:
    message = str(exc)
    assert message
    assert "\n" not in message


def _cipher() -> FieldCipher:
    return FieldCipher.from_settings(Settings(home=Path(tempfile.mkdtemp())))


def _read_generic(folder: Path) -> int:
    reader = GenericReader(folder, cipher=_cipher, today=TODAY)
    rows = 0
    for table in ("customers", "accounts", "statements", "transactions", "labels"):
        if reader.files[table]:
            for chunk in reader.chunks(table):
                assert chunk.rejects.height >= 0
                rows += chunk.rows_read
    return rows


@settings(max_examples=READER_EXAMPLES, deadline=None)
@given(body=csv_body)
def test_uci_reader_rejects_or_fails_with_one_clear_error_on_any_bytes(body: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "uci.csv"
        path.write_bytes((",".join(COLUMNS) + "\n").encode() + body)
        try:
            read = read_uci(path)
        except SourceError as exc:
            _assert_one_line(exc)
            return
        assert read.accounts.height + read.rejected_rows <= read.rows_read
        assert read.statements.height == 6 * read.accounts.height


@settings(max_examples=READER_EXAMPLES, deadline=None)
@given(customers=csv_body, statements=csv_body)
def test_generic_reader_rejects_or_fails_with_one_clear_error_on_any_bytes(
    customers: bytes, statements: bytes
) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "customers.csv").write_bytes(b"customer_id,name,birth_year\n" + customers)
        (folder / "accounts.csv").write_text(GOOD_ACCOUNTS)
        (folder / "statements.csv").write_bytes(STATEMENT_HEADER.encode() + b"\n" + statements)
        try:
            _read_generic(folder)
        except SourceError as exc:
            _assert_one_line(exc)


_TYPES: dict[str, tuple[pa.DataType, st.SearchStrategy[object]]] = {
    "string": (pa.string(), st.text(max_size=8)),
    "int64": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "int8": (pa.int8(), st.integers(-128, 127)),
    "uint64": (pa.uint64(), st.integers(0, 2**64 - 1)),
    "float64": (pa.float64(), st.floats(allow_nan=True, allow_infinity=True)),
    "decimal": (pa.decimal128(18, 2), st.decimals(-(10**15), 10**15, places=2)),
    "decimal4": (pa.decimal128(38, 4), st.decimals(-(10**30), 10**30, places=4)),
    "date": (pa.date32(), st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))),
    "timestamp": (pa.timestamp("us"), st.datetimes(dt.datetime(1, 1, 2), dt.datetime(9999, 1, 1))),
    "bool": (pa.bool_(), st.booleans()),
    "binary": (pa.binary(), st.binary(max_size=8)),
    "list": (pa.list_(pa.int64()), st.lists(st.integers(-5, 5), max_size=3)),
}
_STATEMENT_COLUMNS = STATEMENT_HEADER.split(",")


@st.composite
def parquet_tables(draw: st.DrawFn) -> pa.Table:
    rows = draw(st.integers(0, 6))
    columns = {}
    for name in _STATEMENT_COLUMNS:
        if draw(st.integers(0, 9)) == 0 and name not in ("account_id", "cycle_date"):
            continue  # an optional column left out now and then
        kind = draw(st.sampled_from(sorted(_TYPES)))
        arrow_type, values = _TYPES[kind]
        cells = draw(st.lists(st.one_of(st.none(), values), min_size=rows, max_size=rows))
        if kind == "decimal4":
            cells = [None if c is None else Decimal(str(c)) for c in cells]
        columns[name] = pa.array(cells, type=arrow_type)
    return pa.table(columns)


@settings(max_examples=READER_EXAMPLES, deadline=None)
@given(
    table=parquet_tables(),
    damage=st.one_of(
        st.none(), st.tuples(st.integers(0, 10_000), st.binary(min_size=1, max_size=4))
    ),
)
def test_generic_reader_on_any_parquet_rejects_or_fails_with_one_clear_error(
    table: pa.Table, damage: tuple[int, bytes] | None
) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "customers.csv").write_text(GOOD_CUSTOMERS)
        (folder / "accounts.csv").write_text(GOOD_ACCOUNTS)
        path = folder / "statements.parquet"
        pq.write_table(table, path)
        if damage is not None:
            data = bytearray(path.read_bytes())
            at = damage[0] % len(data)
            data[at : at + len(damage[1])] = damage[1]
            path.write_bytes(bytes(data))
        try:
            _read_generic(folder)
        except SourceError as exc:
            _assert_one_line(exc)


# -- whole imports: fail with one error and write nothing, or load with rejects -----------------

_DATA_TABLES = ("customers", "accounts", "statements", "limit_history", "ledger_postings")


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                t: int(connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in _DATA_TABLES
            }
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'store.db'}"
    open_store(url).dispose()
    return url


@settings(
    max_examples=IMPORT_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(customers=csv_body, statements=csv_body, table=parquet_tables())
def test_an_import_of_any_input_succeeds_with_rejects_or_fails_once_and_writes_nothing(
    fuzz_store: str, customers: bytes, statements: bytes, table: pa.Table
) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name) / "portfolio"
        (folder / "statements").mkdir(parents=True)
        (folder / "customers.csv").write_bytes(b"customer_id,name,birth_year\n" + customers)
        (folder / "accounts.csv").write_text(GOOD_ACCOUNTS)
        (folder / "statements" / "a.csv").write_bytes(
            STATEMENT_HEADER.encode() + b"\n" + statements
        )
        pq.write_table(table, folder / "statements" / "b.parquet")
        rejects = Path(name) / "rejects.csv"
        before = _counts(fuzz_store)
        try:
            result = import_portfolio(
                folder,
                layout="generic",
                database_url=fuzz_store,
                rejects_path=rejects,
                settings=Settings(home=Path(name) / "home"),
                today=TODAY,
            )
        except SourceError as exc:
            _assert_one_line(exc)
            assert _counts(fuzz_store) == before
            assert not rejects.exists()
            return
        after = _counts(fuzz_store)
        assert after["statements"] - before["statements"] == result.statements
        assert result.rejected <= result.rows_read
