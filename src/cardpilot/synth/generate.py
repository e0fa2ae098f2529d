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

import pyarrow as pa
import pyarrow.parquet as pq

from cardpilot.synth.blocks import (
    BLOCK,
    DEFAULT_CHUNK,
    TABLES,
    TX_PART_ACCOUNTS,
    Block,
    block_rngs,
    concat_blocks,
    decimal_from_fen,
    draw_block,
    last_month_end,
    month_ends,
)
from cardpilot.synth.copula import CopulaModel, shipped_model
from cardpilot.synth.tables import (
    SCHEMAS,
    accounts_table,
    customers_table,
    labels_table,
    statements_table,
    transactions_table,
)

__all__ = [
    "DEFAULT_CHUNK",
    "SCHEMAS",
    "GenerateError",
    "GenerateOptions",
    "GenerateResult",
    "decimal_from_fen",
    "generate_portfolio",
    "params_digest",
]


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


# Raised when the same parameters and seed give other rows (2: national ids unique by
# customer), so a portfolio cached under the old digest is made again.
FORMAT_VERSION = 2


def params_digest(model: CopulaModel) -> str:
    """A digest of what decides the rows besides the options: parameters and format version."""
    content = {"params": model.params, "format": FORMAT_VERSION}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


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
            main_rng, tx_rng = block_rngs(options.seed, block)
            one = draw_block(model, main_rng, first, size, options.months, cycles)
            drawn.append(one)
            if options.transactions:
                tx_tables.append(transactions_table(one, cycles, tx_rng))
                tx_accounts += size
                if tx_accounts >= TX_PART_ACCOUNTS:
                    _flush_tx(options.out, chunk_index, tx_part, tx_tables, result)
                    tx_part, tx_tables, tx_accounts = tx_part + 1, [], 0
        if tx_tables:
            _flush_tx(options.out, chunk_index, tx_part, tx_tables, result)
        merged = concat_blocks(drawn)
        outputs = {
            "customers": customers_table(merged, model),
            "accounts": accounts_table(merged),
            "statements": statements_table(merged, cycles),
            "labels": labels_table(merged, observed_on),
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
