"""Fit the synthetic-portfolio parameters from the UCI file and write ``synth/params.json``.

    python bench/fit_synth_params.py [--data ../shared/data/uci_credit_card_default.csv]

Only aggregates are written (see ``cardpilot.synth.fit``); the raw file stays outside the repo.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cardpilot.synth.fit import FitError, default_params_path, fit_params, write_params

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "uci_credit_card_default.csv"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=default_params_path())
    args = parser.parse_args(argv)
    try:
        params = fit_params(args.data)
    except FitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_params(params, args.out)
    print(f"wrote {args.out} (default rate {params['default_rate']:.4f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
