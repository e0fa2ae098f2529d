"""The portfolio the review, simulation and API benchmarks share, and what they build on it.

* ``portfolio``: a synthetic portfolio of N accounts with 6 statements each and no transactions
  (``cardpilot generate --no-transactions --months 6``), under ``<cache>/review-<N>-m6/``;
* ``sqlite_store``: that portfolio imported into a SQLite file beside it;
* ``bench_model``: the scorecard the benchmarks score with (trained once on the UCI file);
* ``calibrated_policy``: the default policy with its score cut-offs placed at quantiles of that
  model's scores on the store.

Each is made once and cached; the cache is ``bench/.cache/`` unless a benchmark is given
another (``--cache DIR``: a second checkout can use the first one's portfolio and store, which
cost minutes to build).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
UCI = ROOT.parent / "shared" / "data" / "uci_credit_card_default.csv"
SEED = 20260101
END_CYCLE = dt.date(2026, 9, 30)
AS_OF = dt.date(2026, 10, 1)
# The default policy's score cut-offs assume a 300-900 scale that the bench's model (trained on
# the UCI data) does not have: under them every account is graded poor, and the review never
# increases a limit nor starts a watch. As the demo does, the cut-offs are placed at quantiles
# of the model's own scores (30/30/20/20 %, best grade first), here those of the first
# CALIBRATION_ACCOUNTS accounts of the portfolio, so the review decides a realistic mix.
GRADE_SHARES = (0.3, 0.3, 0.2, 0.2)
CALIBRATION_ACCOUNTS = 100_000


def portfolio_home(accounts: int, cache: Path = CACHE) -> Path:
    """The folder of the ``accounts``-account portfolio and its stores."""
    return cache / f"review-{accounts}-m6"


def portfolio(accounts: int, cache: Path = CACHE) -> Path:
    """The synthetic portfolio's folder, generated when absent or incomplete."""
    from cardpilot.synth.generate import GenerateOptions, generate_portfolio

    folder = portfolio_home(accounts, cache) / "portfolio"
    manifest = folder / "synth.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("complete"):
        return folder
    generate_portfolio(
        GenerateOptions(
            accounts=accounts,
            out=folder,
            seed=SEED,
            months=6,
            transactions=False,
            end_cycle=END_CYCLE,
            overwrite=True,
        )
    )
    return folder


def sqlite_store(accounts: int, folder: Path, cache: Path = CACHE) -> Path:
    """The portfolio at ``folder`` imported into SQLite (imported when absent), migrated."""
    from cardpilot.config import Settings
    from cardpilot.jobs.importing import import_portfolio
    from cardpilot.store.db import open_store

    base = portfolio_home(accounts, cache)
    store = base / "store.db"
    if not store.exists():
        tmp = base / "store.tmp.db"
        tmp.unlink(missing_ok=True)
        url = f"sqlite:///{tmp}"
        import_portfolio(
            folder, layout="generic", database_url=url, settings=Settings(home=base / "home")
        )
        tmp.rename(store)
    open_store(f"sqlite:///{store}").dispose()  # migrate the cached store before copying it
    return store


def bench_model(given: str | None, cache: Path = CACHE) -> str:
    """The scorecard folder: ``given`` (a model folder or its parent), else the one trained
    once on the UCI file under the cache."""
    if given:
        path = Path(given)
        return str(path / "scorecard" if (path / "scorecard").is_dir() else path)
    folder = cache / "models"
    if not (folder / "scorecard").is_dir():
        if not UCI.exists():
            raise SystemExit(
                f"no model: pass --model DIR (cardpilot model train --out DIR); {UCI} absent"
            )
        subprocess.run(
            [
                str(Path(sys.executable).with_name("cardpilot")),
                "model",
                "train",
                "--format",
                "uci",
                "--data",
                str(UCI),
                "--out",
                str(folder),
                "--json",
            ],
            check=True,
            env={**os.environ, "CARDPILOT_HOME": str(cache / "models-home")},
        )
    return str(folder / "scorecard")


def calibrated_policy(url: str, model: str, folder: Path) -> Path:
    """The default policy with its score cut-offs calibrated to ``model`` (``GRADE_SHARES``)
    on the store's first ``CALIBRATION_ACCOUNTS`` accounts (``cardpilot policy calibrate``),
    written as ``folder/policy.json`` for a benchmark's child process."""
    from cardpilot.jobs.calibrate import calibrate_policy
    from cardpilot.policy.loading import load_policy
    from cardpilot.scoring.registry import load_model_dir

    result = calibrate_policy(
        url,
        load_model_dir(model),
        load_policy(),
        shares=GRADE_SHARES,
        as_of=AS_OF,
        sample=CALIBRATION_ACCOUNTS,
    )
    target = folder / "policy.json"
    target.write_text(
        json.dumps(
            {
                "version": result.policy.version,
                "sample_accounts": result.accounts,
                "limits": result.policy.limits.model_dump(mode="json", by_alias=True),
                "reasons": result.policy.reasons.model_dump(mode="json", by_alias=True),
            }
        )
    )
    return target
