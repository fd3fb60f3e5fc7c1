"""Re-run a recorded run from its manifest and compare the metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from alphaforge.config import AppConfig
from alphaforge.core.errors import AlphaForgeError, ConfigError
from alphaforge.core.progress import SILENT, Reporter
from alphaforge.pipeline.backtest_run import BacktestOutcome, run_backtest_command
from alphaforge.pipeline.demo import DemoOutcome, run_demo
from alphaforge.pipeline.results import (
    BacktestSummary,
    DemoSummary,
    RunManifest,
    SweepSummary,
    TrainSummary,
    read_result,
)
from alphaforge.pipeline.rundir import MANIFEST, SUMMARY, code_version, package_versions
from alphaforge.pipeline.sweep_run import SweepOutcome, run_sweep_command
from alphaforge.pipeline.train import TrainOutcome, run_training


@dataclass(frozen=True, slots=True)
class MetricDiff:
    """One metric of the original and the reproduced run."""

    section: str
    metric: str
    original: float | None
    reproduced: float | None

    @property
    def difference(self) -> float | None:
        """Return reproduced minus original (None when either is missing)."""
        if self.original is None or self.reproduced is None:
            return None
        return self.reproduced - self.original

    @property
    def identical(self) -> bool:
        """Return True when both are equal, or both missing / NaN."""
        a, b = self.original, self.reproduced
        if a is None or b is None:
            return a is None and b is None
        return a == b or (math.isnan(a) and math.isnan(b))


@dataclass(frozen=True, slots=True)
class ReproduceResult:
    """The comparison and the new run's folder."""

    rows: list[MetricDiff]
    notes: list[str]
    new_run: Path

    @property
    def identical(self) -> bool:
        """Return True when every metric is reproduced exactly."""
        return all(row.identical for row in self.rows)


def _config_from_manifest(manifest: RunManifest) -> AppConfig:
    recorded = dict(manifest.config)
    recorded.pop("secrets", None)  # masked in the record; not needed to reproduce research runs
    try:
        return AppConfig.model_validate(recorded)
    except ValueError as exc:
        raise ConfigError(
            f"The recorded configuration no longer validates: {exc.__class__.__name__}.",
            hint="Reproduce with the AlphaForge version recorded in the manifest.",
        ) from None


def _reproduce_backtest(
    run_dir: Path, manifest: RunManifest, config: AppConfig, reporter: Reporter
) -> ReproduceResult:
    """Re-run a backtest or sweep on its recorded inputs and compare every metric."""
    original: BacktestSummary | SweepSummary
    outcome: BacktestOutcome | SweepOutcome
    data = manifest.data
    if manifest.command == "sweep":
        original = read_result(run_dir / SUMMARY, SweepSummary)
        grid = Path(str(data.get("grid")))
        if not grid.is_file():
            raise AlphaForgeError(
                f"The sweep's grid file {grid} is gone.", hint="Restore it and run again."
            )
        outcome = run_sweep_command(config, grid, reporter=reporter)
    else:
        original = read_result(run_dir / SUMMARY, BacktestSummary)
        source = data.get("predictions")
        if isinstance(source, str) and source.startswith("champion "):
            raise AlphaForgeError(
                f"{run_dir.name} traded {source}: the registry's champion may have changed since.",
                hint="Backtest that version's train run with --predictions instead.",
            )
        predictions = Path(source) if isinstance(source, str) else None
        model = str(data.get("model") or "ensemble")
        outcome = run_backtest_command(
            config, predictions=predictions, model=model, reporter=reporter
        )
    notes = _version_notes(manifest)
    if {k: v for k, v in manifest.data.items() if k != "hashes"} != {
        k: v for k, v in outcome.summary.data.items() if k != "hashes"
    } or manifest.data.get("hashes") != outcome.summary.data.get("hashes"):
        notes.append("Input data differ from the recorded content hashes.")
    notes.append(
        "Deflated Sharpe ratios count the trial ledger's history: they match when no other "
        "configuration was recorded in the experiment after the original run."
    )
    new_sections = outcome.summary.metric_sections()
    rows = [
        MetricDiff(section, key, value, new_sections.get(section, {}).get(key))
        for section, metrics in original.metric_sections().items()
        for key, value in metrics.items()
    ]
    return ReproduceResult(rows, notes, outcome.run.path)


def _version_notes(manifest: RunManifest) -> list[str]:
    """Return one note per difference in code or package versions since the run."""
    notes = []
    if manifest.code_version != code_version():
        notes.append(
            f"Code version differs: recorded {manifest.code_version}, now {code_version()}."
        )
    recorded_packages = manifest.packages
    for name, version in package_versions().items():
        if recorded_packages.get(name) not in (None, version):
            notes.append(f"{name} differs: recorded {recorded_packages[name]}, now {version}.")
    return notes


def reproduce_run(run_dir: Path, *, reporter: Reporter = SILENT) -> ReproduceResult:
    """Re-run ``run_dir`` with its recorded configuration and seed; compare every metric."""
    if not run_dir.is_dir():
        raise AlphaForgeError(
            f"{run_dir} is not a directory.", hint="Pass a run directory such as runs/<id>."
        )
    manifest = read_result(run_dir / MANIFEST, RunManifest)
    recorded_command = manifest.command
    if recorded_command not in ("demo", "train", "backtest", "sweep"):
        raise AlphaForgeError(
            f"Cannot reproduce a {recorded_command!r} run.",
            hint="alphaforge reproduce re-runs demo, train, backtest and sweep runs.",
        )
    config = _config_from_manifest(manifest)
    if recorded_command in ("backtest", "sweep"):
        return _reproduce_backtest(run_dir, manifest, config, reporter)
    original: DemoSummary | TrainSummary = (
        read_result(run_dir / SUMMARY, TrainSummary)
        if recorded_command == "train"
        else read_result(run_dir / SUMMARY, DemoSummary)
    )
    if recorded_command == "train":
        # Isolated: nothing is registered and the trials go to a snapshot of the ledger.
        outcome: DemoOutcome | TrainOutcome = run_training(
            config, reporter=reporter, command="reproduce", isolated=True
        )
    else:
        outcome = run_demo(config, reporter=reporter, command="reproduce")
    notes = _version_notes(manifest)
    new_data = (
        outcome.summary.data.model_dump(mode="json")
        if isinstance(outcome.summary, TrainSummary)
        else outcome.summary.data
    )
    if manifest.data != new_data:
        notes.append("Input data differ from the recorded content hashes.")
    if recorded_command == "train":
        notes.append(
            "Deflated Sharpe ratios count the trial ledger's history: they match when no "
            "trial was recorded in the experiment after the original run."
        )
    rows = []
    new_sections = outcome.summary.metric_sections()
    for section, metrics in original.metric_sections().items():
        for key, value in metrics.items():
            again = new_sections.get(section, {}).get(key)
            rows.append(MetricDiff(section, key, value, again))
    return ReproduceResult(rows, notes, outcome.run.path)
