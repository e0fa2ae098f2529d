"""Model directories and the model registry.

A model directory is self-contained and pickle-free:

* ``metadata.json`` — family, version, training data hash, features, parameters, metrics,
  calibration, fairness figures, time;
* scorecard: ``scorecard.json`` (the readable points table; it alone scores) and
  ``scorecard.parquet`` (the same rows), and ``scorecard.sql`` (the SQL expression), written
  beside them by whoever saves the model through the store
  (``cardpilot.store.scorecard_sql.write_scorecard_sql``: SQL text lives in the store);
* gbm: ``model.txt`` (LightGBM's own text format);
* ``report.html`` when training wrote one.

The registry keeps versions under ``Settings.home / "models" / <family> / <version>`` and the
champion of each family in ``champions.json``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl

from cardpilot.scoring.calibration import PlattCalibration
from cardpilot.scoring.gbm import GbmModel
from cardpilot.scoring.protected import assert_not_protected
from cardpilot.scoring.scaling import PointsScale
from cardpilot.scoring.scorecard import TABLE_SCHEMA, ScorecardModel

Model = ScorecardModel | GbmModel
METADATA = "metadata.json"


class RegistryError(LookupError):
    """A model version or family the registry does not hold."""


def save_model_dir(model: Model, metadata: dict[str, Any], path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if isinstance(model, ScorecardModel):
        rows = model.table.to_dicts()
        (path / "scorecard.json").write_text(
            json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        model.table.write_parquet(path / "scorecard.parquet")
    else:
        model.booster.save_model(str(path / "model.txt"))
        metadata = {**metadata, "categories": model.categories}
    (path / METADATA).write_text(
        json.dumps(metadata, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    return path


def read_metadata(path: Path) -> dict[str, Any]:
    meta_path = Path(path) / METADATA
    if not meta_path.exists():
        raise RegistryError(f"{path}: no {METADATA}; not a model directory")
    data: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    return data


def load_model_dir(path: str | Path) -> Model:
    """The model object stored in a directory written by training (no pickles)."""
    path = Path(path)
    meta = read_metadata(path)
    protected = meta.get("protected_attributes", ["sex", "marital_status"])
    assert_not_protected(meta["features"], protected)
    scale = PointsScale(**meta["scale"])
    calibration = PlattCalibration.from_dict(meta["calibration"])
    if meta["family"] == "scorecard":
        rows = json.loads((path / "scorecard.json").read_text(encoding="utf-8"))
        table = pl.DataFrame(rows, schema=TABLE_SCHEMA)
        return ScorecardModel(table, scale, calibration, meta["version"], protected)
    if meta["family"] == "gbm":
        import lightgbm as lgb

        booster = lgb.Booster(model_file=str(path / "model.txt"))
        return GbmModel(
            booster,
            meta["features"],
            meta.get("categories", {}),
            scale,
            calibration,
            meta["version"],
            protected,
        )
    raise RegistryError(f"{path}: unknown model family {meta['family']!r}")


def registry_family(meta: dict[str, Any]) -> str:
    """The registry's key for a model: its family, prefixed by what it scores unless that is
    accounts' behaviour (``application-scorecard``), so each population has its champion."""
    subject = meta.get("subject", "behaviour")
    return meta["family"] if subject == "behaviour" else f"{subject}-{meta['family']}"


class Registry:
    """Versions per family under ``home/models``; one champion per family."""

    def __init__(self, home: str | Path) -> None:
        self.root = Path(home) / "models"

    def _champions_path(self) -> Path:
        return self.root / "champions.json"

    def champions(self) -> dict[str, str]:
        p = self._champions_path()
        if not p.exists():
            return {}
        data: dict[str, str] = json.loads(p.read_text(encoding="utf-8"))
        return data

    def register(self, model_dir: Path) -> dict[str, Any]:
        """Copy a model directory in; the first version of a family becomes its champion."""
        meta = read_metadata(model_dir)
        target = self.root / registry_family(meta) / meta["version"]
        if target.resolve() != Path(model_dir).resolve():
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(model_dir, target)
        if registry_family(meta) not in self.champions():
            self.promote(meta["version"])
        return meta

    def versions(self) -> list[dict[str, Any]]:
        out = []
        champions = set(self.champions().values())
        if not self.root.exists():
            return []
        for meta_path in sorted(self.root.glob(f"*/*/{METADATA}")):
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            out.append(
                {
                    "family": registry_family(meta),
                    "version": meta["version"],
                    "created_at": meta["created_at"],
                    "champion": meta["version"] in champions,
                    "test_auc": meta["metrics"].get("test_auc"),
                    "test_ks": meta["metrics"].get("test_ks"),
                    "features": len(meta["features"]),
                }
            )
        return sorted(out, key=lambda r: (r["family"], r["created_at"], r["version"]))

    def path(self, version: str) -> Path:
        hits = list(self.root.glob(f"*/{version}/{METADATA}")) if self.root.exists() else []
        if not hits:
            known = ", ".join(v["version"] for v in self.versions()) or "none"
            raise RegistryError(f"no model version {version!r} in {self.root} (known: {known})")
        return hits[0].parent

    def metadata(self, version: str) -> dict[str, Any]:
        return read_metadata(self.path(version))

    def promote(self, version: str) -> dict[str, str]:
        meta = self.metadata(version)
        champions = {**self.champions(), registry_family(meta): version}
        self.root.mkdir(parents=True, exist_ok=True)
        self._champions_path().write_text(json.dumps(champions, indent=2), encoding="utf-8")
        return champions

    def champion_version(self, family: str) -> str:
        version = self.champions().get(family)
        if version is None:
            raise RegistryError(
                f"no champion for model family {family!r} in {self.root}; "
                "run `cardpilot model train` or `cardpilot model promote VERSION`"
            )
        return version

    def champion(self, family: str) -> Model:
        return load_model_dir(self.path(self.champion_version(family)))

    def load(self, version: str) -> Model:
        return load_model_dir(self.path(version))
