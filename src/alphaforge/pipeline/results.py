"""Typed run results: ``train``'s and ``demo``'s ``summary.json``, every ``manifest.json``, and
the training record a registered model keeps.

Each file has one pydantic model, written and read here and nowhere else, so a key is named
once and a reader (the CLI, ``reproduce``, a later dashboard) gets attributes, not strings.
Metric tables stay open mappings (:data:`Metrics`, metric name to value): the set of metrics
grows with the stages (3-class targets add ``up_down_auc``) and a report prints whatever is
there. NaN and infinities are written as JSON ``null``; a metric's ``null`` reads back as NaN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from alphaforge.core.errors import AlphaForgeError
from alphaforge.models.record import RecordedFeatures, TrainingRecord, training_record
from alphaforge.pipeline.rundir import read_json, write_json


def _null_as_nan(value: object) -> object:
    return float("nan") if value is None else value


#: A metric's value: NaN where it is undefined (written as ``null``, read back as NaN).
MetricValue = Annotated[float, BeforeValidator(_null_as_nan)]

#: Metric name to value.
Metrics = dict[str, MetricValue]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Overfitting(_Result):
    """Trial counts and the statistics the trial ledger feeds (see ``pipeline/trials.py``)."""

    experiment: str
    ledger: str
    n_trials: int
    deflated_sharpe: Metrics
    control_deflated_sharpe: Metrics
    pbo: float | None
    pbo_undefined_reason: str | None = None


class TrainData(_Result):
    """The universe a train run used: symbols, interval, first and last bar, content hashes."""

    universe: str
    kind: str
    interval: str
    symbols: list[str]
    first: str
    last: str
    hashes: dict[str, str]


class Catalysts(_Result):
    """Scheduled events that re-weighted training rows (``labels.catalyst_file``)."""

    events: int
    rows_weighted: int
    factor: float


class TrainSummary(_Result):
    """``summary.json`` of ``alphaforge train`` (README, "summary.json" lists each key)."""

    run_id: str
    command: str
    created: str
    config: dict[str, Any]
    seed: int
    data: TrainData
    code_version: str
    models: dict[str, Metrics]
    ensemble: Metrics
    ensemble_weights: Metrics
    mean_agreement: MetricValue
    search_trials: int
    quantiles: Metrics | None
    multi_task: list[dict[str, Any]] | None
    catalysts: Catalysts | None
    overfitting: Overfitting
    diagnostics: dict[str, Metrics]
    registered: dict[str, dict[str, Any]]
    benchmark_metrics: Metrics
    controls: dict[str, Metrics]
    warnings: list[str]
    report: str

    @property
    def three_class(self) -> bool:
        """Return True when the target had three classes (``auc`` is then one-vs-rest)."""
        return "up_down_auc" in self.ensemble

    def metric_sections(self) -> dict[str, Metrics]:
        """Return every metric table by section name, as ``reproduce`` compares them."""
        sections = {f"models.{name}": metrics for name, metrics in self.models.items()}
        sections["ensemble"] = self.ensemble
        sections["benchmark"] = self.benchmark_metrics
        sections |= {f"controls.{label}": metrics for label, metrics in self.controls.items()}
        return sections


class _RunSummary(_Result):
    """What every run's ``summary.json`` opens with: the run, its configuration, seed, data
    record and code version (``train`` types its data record and does not use this)."""

    run_id: str
    command: str
    created: str
    config: dict[str, Any]
    seed: int
    data: dict[str, Any]
    code_version: str


class DemoSection(_Result):
    """One universe of the demo: backtest, equal-weight benchmark and prediction metrics."""

    metrics: Metrics
    benchmark_metrics: Metrics
    prediction_metrics: Metrics


class DemoAggregateSection(_Result):
    """The demo's rules + ML book: metrics, P&L by component and what the ML share is."""

    metrics: Metrics
    #: Net P&L by component, account currency (they sum to the book's trade P&L).
    pnl_by_component: dict[str, float]
    weights: dict[str, float]
    note: str


class DemoSummary(_RunSummary):
    """``summary.json`` of ``alphaforge demo`` (README, "summary.json" lists each key)."""

    metrics: Metrics
    benchmark_metrics: Metrics
    prediction_metrics: Metrics
    control: DemoSection
    #: One line each: does the strategy find the planted edge, does the control look like
    #: chance (see ``alphaforge.pipeline.demo``).
    verdicts: dict[str, str]
    control_looks_like_chance: bool
    control_gross_psr: MetricValue
    warnings: list[str]
    report: str
    #: The rules + ML aggregate traded on the strategy universe (None in older runs).
    rules_plus_ml: DemoAggregateSection | None = None

    @property
    def signal_strength(self) -> float:
        """Return the planted share of daily return variance the run was configured with."""
        return float(self.config["demo"]["signal_strength"])

    def metric_sections(self) -> dict[str, Metrics]:
        """Return every metric table by section name, as ``reproduce`` compares them."""
        return {
            "metrics": self.metrics,
            "benchmark": self.benchmark_metrics,
            "prediction": self.prediction_metrics,
            "control.metrics": self.control.metrics,
            "control.benchmark": self.control.benchmark_metrics,
            "control.prediction": self.control.prediction_metrics,
        } | ({} if self.rules_plus_ml is None else {"rules_plus_ml": self.rules_plus_ml.metrics})


class BacktestSummary(_RunSummary):
    """``summary.json`` of ``alphaforge backtest`` (written last: its presence means finished)."""

    strategy: str
    metrics: Metrics
    benchmark_metrics: Metrics
    #: Total paid per cost component over the run, account currency.
    costs: dict[str, float]
    #: Closed round trips, and trades still open at the end (marked at the last close).
    trades: int
    open_trades: int
    #: Orders the risk layer refused, resized or trimmed (rows of audit.parquet).
    audit_rows: int
    warnings: list[str]
    #: An aggregate's net P&L by component, account currency (empty for one strategy).
    pnl_by_component: dict[str, float] = {}

    def metric_sections(self) -> dict[str, Metrics]:
        """Return every metric table by section name, as ``reproduce`` compares them."""
        return {"metrics": self.metrics, "benchmark": self.benchmark_metrics}


class SweepSummary(_RunSummary):
    """``summary.json`` of ``alphaforge backtest --sweep`` (written last)."""

    strategy: str
    parameter_sets: int
    #: Grid combinations the strategy refused (listed in warnings).
    skipped: int
    #: The trial-ledger experiment, and how many distinct configurations it now holds.
    experiment: str
    trials_in_experiment: int
    #: Probability of backtest overfitting of the sweep (None when it cannot be computed).
    pbo: float | None
    best: str
    best_metrics: Metrics
    warnings: list[str]

    def metric_sections(self) -> dict[str, Metrics]:
        """Return every metric table by section name, as ``reproduce`` compares them."""
        return {"best": self.best_metrics}


class RunManifest(_Result):
    """``manifest.json``: everything needed to reproduce a run."""

    command: str
    config: dict[str, Any]
    seed: int
    seeds: dict[str, int]
    data: dict[str, Any]
    packages: dict[str, str]
    code_version: str
    machine: dict[str, Any]
    #: The demo's real series: content hash of each stored series used.
    store_manifest: dict[str, str] | None = None


def _first_error(exc: ValidationError) -> str:
    """Return the first validation problem as ``where: what``."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "the top level"
    return f"{where}: {first['msg']}"


_R = TypeVar("_R", bound=BaseModel)


def write_result(path: Path, result: BaseModel) -> None:
    """Write a result model as JSON, atomically (sorted keys, NaN as ``null``)."""
    write_json(path, result.model_dump(mode="json"))


def read_result(path: Path, kind: type[_R]) -> _R:
    """Read a result file as ``kind``, failing in one line when it is missing or not one."""
    raw = read_json(path)
    try:
        return kind.model_validate(raw)
    except ValidationError as exc:
        raise AlphaForgeError(
            f"{path} is not a {kind.__name__} ({_first_error(exc)}).",
            hint="It was written by another AlphaForge version, or it is damaged.",
        ) from None


__all__ = [
    "Catalysts",
    "DemoSection",
    "DemoSummary",
    "MetricValue",
    "Metrics",
    "Overfitting",
    "RecordedFeatures",
    "RunManifest",
    "TrainData",
    "TrainSummary",
    "TrainingRecord",
    "read_result",
    "training_record",
    "write_result",
]
