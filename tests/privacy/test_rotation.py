"""Key rotation end to end through the ``cardpilot`` command, on SQLite and PostgreSQL.

A synthetic portfolio of 300 customers (``cardpilot generate``) is imported under k1; k2 is
named active with k1 kept on the ring; ``privacy rotate`` re-encrypts; k1 leaves the ring.
Every value then decrypts to what the file said and every national id is found by its blind
index. The order of the ring changes nothing, a rotation killed with SIGKILL loses nothing and
finishes when run again, and a key still in use cannot leave the ring.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.config import Settings, get_settings
from cardpilot.jobs.importing import import_portfolio
from cardpilot.jobs.privacy import KILL_HOOK_ENV, key_status, rotate
from cardpilot.privacy import BlindIndexKey, FieldCipher, KeyRing
from cardpilot.privacy.cipher import blind_index_prefix, ciphertext_prefix
from cardpilot.store.db import make_engine
from cardpilot.store.personal_data import PersonalRow, customer_ids_by_blind_index, rewrite_batch

CARDPILOT = str(Path(sys.executable).parent / "cardpilot")
CUSTOMERS = 300
FIELDS = ("name", "national_id", "phone", "email")


def _key(seed: int) -> str:
    return base64.b64encode(bytes([seed]) * 32).decode()


K1, K2, B1, B2 = (f"k1:{_key(1)}", f"k2:{_key(2)}", f"b1:{_key(3)}", f"b2:{_key(4)}")


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """The command-line cases set keys through the environment; no test keeps them."""
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("keys") / "portfolio"
    done = subprocess.run(
        [
            CARDPILOT,
            "generate",
            "--out",
            str(out),
            "-n",
            str(CUSTOMERS),
            "--months",
            "2",
            "--no-transactions",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def plaintext(portfolio: Path) -> dict[str, dict[str, str | None]]:
    frame = pl.read_parquet(portfolio / "customers" / "*.parquet")
    return {
        row["customer_id"]: {f: (row[f] or None) for f in FIELDS}
        for row in frame.select("customer_id", *FIELDS).iter_rows(named=True)
    }


@contextmanager
def _store(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _settings(home: Path, ring: str, active: str | None = None, blind: str = B1) -> Settings:
    return Settings(home=home, pii_keys=ring, pii_active_key=active, blind_index_key=blind)


def _import(url: str, home: Path, portfolio: Path, ring: str, active: str | None) -> None:
    result = import_portfolio(
        portfolio,
        layout="generic",
        database_url=url,
        rejects_path=home / "rejects",
        settings=_settings(home, ring, active),
    )
    assert result.customers == CUSTOMERS


def _cipher(ring: str, active: str | None = None, blind: str = B1) -> FieldCipher:
    return FieldCipher(KeyRing.parse(ring, active), BlindIndexKey.parse(blind))


def _status(url: str, cipher: FieldCipher) -> dict[str, Any]:
    with _store(url) as engine:
        return key_status(engine, cipher).as_json()


def _rotate(url: str, cipher: FieldCipher, batch_size: int = 1000) -> dict[str, Any]:
    with _store(url) as engine:
        return rotate(engine, cipher, batch_size=batch_size).as_json()


def cardpilot(
    url: str,
    home: Path,
    *args: str,
    ring: str,
    active: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own (what a SIGKILL needs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDPILOT_")}
    env |= {
        "CARDPILOT_HOME": str(home),
        "CARDPILOT_DATABASE_URL": url,
        "CARDPILOT_PII_KEYS": ring,
        "CARDPILOT_BLIND_INDEX_KEY": B1,
        "COLUMNS": "200",
    }
    if active:
        env["CARDPILOT_PII_ACTIVE_KEY"] = active
    env |= extra_env or {}
    return subprocess.run([CARDPILOT, *args], env=env, capture_output=True, text=True, timeout=300)


def _by_key(status: dict[str, Any], kind: str = "ciphertext") -> dict[str, int]:
    out: dict[str, int] = {}
    for c in status["columns"]:
        if c["kind"] == kind:
            out[c["key_id"]] = out.get(c["key_id"], 0) + c["values"]
    return out


def _read_back(url: str, cipher: FieldCipher) -> dict[str, dict[str, str | None]]:
    with _store(url) as engine, engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT customer_id, name_enc, national_id_enc, phone_enc, email_enc FROM customers"
            )
        ).all()
    return {
        cid: dict(zip(FIELDS, (cipher.decrypt(v) for v in values), strict=True))
        for cid, *values in rows
    }


def _assert_every_lookup_matches(
    url: str, cipher: FieldCipher, plain: dict[str, dict[str, str | None]]
) -> None:
    wanted = {
        cid: cipher.blind_index(f["national_id"]) for cid, f in plain.items() if f["national_id"]
    }
    assert len(wanted) == CUSTOMERS
    with _store(url) as engine:
        found = customer_ids_by_blind_index(engine, [v for v in wanted.values() if v])
    assert {cid: found[value] for cid, value in wanted.items() if value} == {
        cid: [cid] for cid in wanted
    }


def test_import_under_k1_rotate_to_k2_retire_k1_every_value_decrypts_and_every_lookup_matches(
    store_url: str, tmp_path: Path, portfolio: Path, plaintext: dict[str, Any]
) -> None:
    _import(store_url, tmp_path, portfolio, K1, None)
    before = _status(store_url, _cipher(f"{K1},{K2}", "k2"))
    assert _by_key(before) == {"k1": before["values_under_other_keys"]}
    rotated = _rotate(store_url, _cipher(f"{K2},{K1}", "k2"), batch_size=70)
    assert rotated["rows_to_rewrite"] == rotated["rows_rewritten"] == CUSTOMERS
    assert rotated["batches"] == 5
    assert rotated["after"]["retirable_keys"] == ["k1"]
    retired = _cipher(K2)
    after = _status(store_url, retired)
    assert _by_key(after) == {"k2": before["values_under_other_keys"]}
    assert after["values_under_other_keys"] == 0
    assert _by_key(after, "blind_index") == {"b1": CUSTOMERS}
    assert _read_back(store_url, retired) == plaintext
    _assert_every_lookup_matches(store_url, retired, plaintext)
    assert _rotate(store_url, retired)["rows_to_rewrite"] == 0


@pytest.mark.parametrize("order", ["k1,k2", "k2,k1"])
def test_the_order_of_the_ring_changes_nothing(
    tmp_path: Path, portfolio: Path, plaintext: dict[str, Any], order: str
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    ring = ",".join({"k1": K1, "k2": K2}[k] for k in order.split(","))
    _import(url, tmp_path, portfolio, ring, "k1")
    status = _status(url, _cipher(ring, "k1"))
    assert set(_by_key(status)) == {"k1"}
    assert status["active_key"] == "k1"
    assert status["retirable_keys"] == ["k2"]
    assert _read_back(url, _cipher(f"{K2},{K1}", "k1")) == plaintext
    _assert_every_lookup_matches(url, _cipher(f"{K1},{K2}", "k2"), plaintext)


def test_the_active_key_is_refused_in_one_line_when_unnamed_or_unknown(tmp_path: Path) -> None:
    runner = CliRunner()
    cases = [(f"{K1},{K2}", None), (f"{K2},{K1}", None), (f"{K1},{K2}", "k3")]
    for ring, active in cases:
        done = runner.invoke(app, ["privacy", "status"], env=_env(tmp_path, ring, active))
        assert done.exit_code == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1
        assert ("'k3'" if active else "CARDPILOT_PII_ACTIVE_KEY is not set") in lines[0]


def _env(home: Path, ring: str, active: str | None = None) -> dict[str, str | None]:
    get_settings.cache_clear()
    # An empty configuration file of the test's own, so no cardpilot.toml around is read.
    config = home / "empty.toml"
    config.touch()
    return {
        "CARDPILOT_HOME": str(home),
        "CARDPILOT_DATABASE_URL": f"sqlite:///{home / 'store.db'}",
        "CARDPILOT_PII_KEYS": ring,
        "CARDPILOT_PII_ACTIVE_KEY": active,
        "CARDPILOT_BLIND_INDEX_KEY": B1,
        "CARDPILOT_CONFIG": str(config),
        "COLUMNS": "200",
    }


def test_an_import_with_national_ids_needs_the_blind_index_key(
    tmp_path: Path, portfolio: Path
) -> None:
    env = _env(tmp_path, K1) | {"CARDPILOT_BLIND_INDEX_KEY": None}
    done = CliRunner().invoke(app, ["import", str(portfolio), "--json"], env=env)
    assert done.exit_code == 2, done.output
    error = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(error) == 1
    assert "CARDPILOT_BLIND_INDEX_KEY is not set" in error[0]


def test_status_and_rotate_on_the_command_line_and_a_key_in_use_cannot_leave_the_ring(
    tmp_path: Path, portfolio: Path
) -> None:
    _import(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, portfolio, K1, None)
    runner = CliRunner()
    shown = runner.invoke(app, ["privacy", "status"], env=_env(tmp_path, f"{K1},{K2}", "k2"))
    assert shown.exit_code == 0, shown.output
    assert "customers.national_id_enc: 300 under k1  (to re-encrypt)" in shown.stdout
    counted = runner.invoke(app, ["privacy", "status", "--json"], env=_env(tmp_path, K1))
    used = _total(envelope_data(counted.stdout))
    status = runner.invoke(app, ["privacy", "status", "--json"], env=_env(tmp_path, K2))
    assert status.exit_code == 1
    assert envelope_data(status.stdout)["missing_keys"] == {"k1": used}
    for args in (["privacy", "rotate"], ["notify", "dispatch"]):
        refused = runner.invoke(app, args, env=_env(tmp_path, K2))
        assert refused.exit_code == 2, refused.output
        error = [line for line in refused.stderr.splitlines() if "error:" in line]
        assert len(error) == 1
        assert f"'k1' ({used:,} values)" in error[0]
    rotated = runner.invoke(
        app, ["privacy", "rotate", "--json"], env=_env(tmp_path, f"{K1},{K2}", "k2")
    )
    assert rotated.exit_code == 0, rotated.output
    assert envelope_data(rotated.stdout)["after"]["retirable_keys"] == ["k1"]
    after = runner.invoke(app, ["privacy", "status", "--json"], env=_env(tmp_path, K2))
    assert after.exit_code == 0, after.output
    assert envelope_data(after.stdout)["values_under_other_keys"] == 0
    again = runner.invoke(app, ["privacy", "rotate"], env=_env(tmp_path, K2))
    assert again.exit_code == 0, again.output
    assert "re-encrypted 0 of 0 customers" in again.stdout
    assert "values under other keys now 0" in again.stdout


def _total(status: dict[str, Any]) -> int:
    return sum(_by_key(status).values())


@pytest.mark.parametrize("hook", ["after:2", "before_commit:3"])
def test_a_rotation_killed_mid_way_loses_nothing_and_a_rerun_finishes(
    store_url: str, tmp_path: Path, portfolio: Path, plaintext: dict[str, Any], hook: str
) -> None:
    _import(store_url, tmp_path, portfolio, K1, None)
    killed = cardpilot(
        store_url, tmp_path, "privacy", "rotate", "--batch-size", "50",
        ring=f"{K1},{K2}", active="k2", extra_env={KILL_HOOK_ENV: hook},
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    both = _cipher(f"{K1},{K2}", "k2")
    assert _read_back(store_url, both) == plaintext
    _assert_every_lookup_matches(store_url, both, plaintext)
    half = _status(store_url, both)
    assert half["retirable_keys"] == []
    # Whole batches only: two committed batches of 50 customers.
    assert _customers_under(store_url, "k2") == 100
    rerun = _rotate(store_url, both, batch_size=50)
    assert rerun["rows_to_rewrite"] == CUSTOMERS - 100
    assert rerun["after"]["values_under_other_keys"] == 0
    assert _read_back(store_url, _cipher(K2)) == plaintext
    _assert_every_lookup_matches(store_url, _cipher(K2), plaintext)


def _customers_under(url: str, key_id: str) -> int:
    with _store(url) as engine, engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM customers WHERE pii_key_id = :k"), {"k": key_id}
            ).scalar_one()
        )


def test_blind_indexes_of_an_older_store_or_key_are_rebuilt_by_rotate(
    store_url: str, tmp_path: Path, portfolio: Path, plaintext: dict[str, Any]
) -> None:
    _import(store_url, tmp_path, portfolio, K1, None)
    # A store from before the blind index had its own key: bare 32-byte digests.
    with _store(store_url) as engine, engine.begin() as conn:
        rows = conn.execute(text("SELECT customer_id, national_id_hmac FROM customers")).all()
        conn.execute(
            text("UPDATE customers SET national_id_hmac = :v WHERE customer_id = :c"),
            [{"c": cid, "v": bytes(value)[3:]} for cid, value in rows],
        )
    legacy = _status(store_url, _cipher(K1))
    assert _by_key(legacy, "blind_index") == {"legacy": CUSTOMERS}
    assert legacy["blind_index_values_to_rebuild"] == CUSTOMERS
    assert _rotate(store_url, _cipher(K1))["rows_rewritten"] == CUSTOMERS
    _assert_every_lookup_matches(store_url, _cipher(K1), plaintext)
    # A new blind-index key: the rotation rebuilds every value under it, encryption untouched.
    moved = _rotate(store_url, _cipher(K1, blind=B2))
    assert moved["rows_rewritten"] == CUSTOMERS
    assert _by_key(moved["after"], "blind_index") == {"b2": CUSTOMERS}
    assert _by_key(moved["after"]) == _by_key(legacy)
    _assert_every_lookup_matches(store_url, _cipher(K1, blind=B2), plaintext)


def _dump(url: str) -> bytes:
    if url.startswith("sqlite"):
        import sqlite3

        path = url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            text_dump = "\n".join(conn.iterdump()).encode()
        return text_dump + Path(path).read_bytes()
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed (postgresql-client)")
    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    done = subprocess.run(["pg_dump", libpq], capture_output=True, timeout=120, check=True)
    return done.stdout


def test_no_plaintext_personal_data_in_a_dump_after_rotation(
    store_url: str, tmp_path: Path, portfolio: Path, plaintext: dict[str, Any]
) -> None:
    _import(store_url, tmp_path, portfolio, K1, None)
    _rotate(store_url, _cipher(f"{K1},{K2}", "k2"))
    dump = _dump(store_url)
    assert len(dump) > 10_000
    values = [v.encode() for f in plaintext.values() for v in f.values() if v]
    assert len(values) > CUSTOMERS
    leaked = [v for v in values if len(v) >= 6 and (v in dump or v.hex().encode() in dump)]
    assert leaked == []


def test_a_row_another_process_changes_during_a_batch_keeps_what_that_process_wrote(
    store_url: str, tmp_path: Path, portfolio: Path, plaintext: dict[str, Any]
) -> None:
    _import(store_url, tmp_path, portfolio, K1, None)
    cipher = _cipher(f"{K1},{K2}", "k2")
    newer = cipher.encrypt("13800000000")
    changed: list[str] = []

    def rewrite(row: PersonalRow) -> PersonalRow:
        if not changed:  # an import under the new key writes this customer's phone meanwhile
            changed.append(row.customer_id)
            with _store(store_url) as other, other.begin() as conn:
                conn.execute(
                    text("UPDATE customers SET phone_enc = :p WHERE customer_id = :c"),
                    {"p": newer, "c": row.customer_id},
                )
        return replace(
            row,
            name_enc=cipher.reencrypt(row.name_enc),
            national_id_enc=cipher.reencrypt(row.national_id_enc),
            phone_enc=cipher.reencrypt(row.phone_enc),
            email_enc=cipher.reencrypt(row.email_enc),
            pii_key_id="k2",
        )

    with _store(store_url) as engine:
        last, written = rewrite_batch(
            engine,
            after=None,
            limit=20,
            active_prefix=ciphertext_prefix("k2"),
            blind_prefix=blind_index_prefix("b1"),
            rewrite=rewrite,
        )
    assert last is not None
    assert written == 19
    back = _read_back(store_url, cipher)
    assert back[changed[0]] == plaintext[changed[0]] | {"phone": "13800000000"}
    rest = _rotate(store_url, cipher)
    assert rest["after"]["values_under_other_keys"] == 0
    assert _read_back(store_url, _cipher(K2))[changed[0]]["phone"] == "13800000000"
