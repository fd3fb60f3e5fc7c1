"""`alphaforge models list|show|challenge|update` (the model registry) and `alphaforge predict`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from alphaforge.cli.console import cells, console, print_warning
from alphaforge.cli.options import ConfigOption, config_from
from alphaforge.core.errors import ConfigError

if TYPE_CHECKING:
    from alphaforge.models.drift import DriftReport
    from alphaforge.models.registry_store import ModelRegistry

models_app = typer.Typer(help="Browse the model registry.", no_args_is_help=True)


def _registry(ctx: typer.Context, config: Path | None) -> ModelRegistry:
    from alphaforge.models.registry_store import ModelRegistry
    from alphaforge.pipeline.registration import registry_root

    cfg = config_from(ctx, config)
    root = registry_root(cfg)
    if not (root / "registry.sqlite").exists():
        raise ConfigError(
            f"No model registry in {root}.",
            hint="Run alphaforge train first (with the same data.store_dir).",
        )
    return ModelRegistry(root)


@models_app.command("list")
def list_(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", help="Only this model name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    config: ConfigOption = None,
) -> None:
    """List registered model versions with their stage, data range and key metrics."""
    with _registry(ctx, config) as registry:
        versions = registry.list(name)
    if as_json:
        typer.echo(json.dumps([v.to_dict() for v in versions], default=str, indent=1))
        return
    table = Table(title="Model registry")
    for column in ("name", "version", "stage", "kind", "trained on", "auc", "sharpe", "dsr"):
        table.add_column(column, justify="right" if column in {"version", "auc"} else "left")
    for v in versions:
        metrics = v.metrics
        table.add_row(
            *cells(
                v.name,
                v.version,
                v.stage,
                v.kind,
                f"{v.data_start.date()}..{v.data_end.date()}",
                f"{metrics.get('auc', float('nan')):.3f}",
                f"{metrics.get('sharpe', float('nan')):.3f}",
                f"{metrics.get('deflated_sharpe', float('nan')):.3f}",
            )
        )
    console.print(table)
    if not versions:
        console.print("No model is registered yet: run alphaforge train.")


@models_app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name, e.g. default.lightgbm.")],
    version: Annotated[
        str, typer.Option("--version", help="A version number, 'champion' or 'latest'.")
    ] = "latest",
    config: ConfigOption = None,
) -> None:
    """Show one model version's metadata and the champion/challenger decisions about it."""
    chosen: int | str | None
    if version == "latest":
        chosen = None
    elif version == "champion":
        chosen = "champion"
    else:
        try:
            chosen = int(version)
        except ValueError:
            raise ConfigError(
                f"--version {version!r} is not a number, 'champion' or 'latest'."
            ) from None
    with _registry(ctx, config) as registry:
        found = registry.get(name, chosen)  # type: ignore[arg-type]
        decisions = [d for d in registry.decisions(name) if d.version == found.version]
    meta = found.to_dict()
    table = Table(title=f"{found.name} v{found.version}", show_header=False)
    table.add_column("key")
    table.add_column("value")
    for key in (
        "stage",
        "kind",
        "created_at",
        "data_start",
        "data_end",
        "label",
        "splitter",
        "seed",
        "code_version",
        "feature_set_version",
    ):
        table.add_row(*cells(key, meta.get(key)))
    table.add_row(
        *cells(
            "features", f"{len(found.feature_names)} ({', '.join(found.feature_names[:5])}, ...)"
        )
    )
    table.add_row(*cells("symbols", ", ".join(found.symbols)))
    for key, value in sorted(found.metrics.items()):
        table.add_row(*cells(f"metric {key}", f"{value:.4f}"))
    for d in decisions:
        verdict = "promoted" if d.promoted else "not promoted"
        table.add_row(*cells(f"decision {d.decided_at:%Y-%m-%d %H:%M}", f"{verdict}: {d.reason}"))
    table.add_row(*cells("artifacts", str(found.path)))
    console.print(table)


@models_app.command("challenge")
def challenge(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name, e.g. default.lightgbm.")],
    challenger: Annotated[
        int | None,
        typer.Option(
            "--challenger", help="Challenger version; default: the newest after the champion."
        ),
    ] = None,
    alpha: Annotated[
        float, typer.Option("--alpha", help="Level of the test: promote only when p < alpha.")
    ] = 0.05,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Stationary-bootstrap resamples of the test.")
    ] = 2000,
    config: ConfigOption = None,
) -> None:
    """Trade champion and challenger on data neither trained on; promote only a winner."""
    from alphaforge.backtest.report import format_metric
    from alphaforge.cli.console import RichReporter
    from alphaforge.pipeline.lifecycle import challenge as run_challenge

    cfg = config_from(ctx, config)
    with RichReporter() as reporter:
        result = run_challenge(
            cfg, name, challenger=challenger, alpha=alpha, n_bootstrap=bootstrap, reporter=reporter
        )
    d = result.decision
    champ, chall = result.champion, result.challenger
    table = Table(title=f"{name}: champion v{champ.version} vs challenger v{chall.version}")
    table.add_column("")
    table.add_column(f"champion v{champ.version}", justify="right")
    table.add_column(f"challenger v{chall.version}", justify="right")
    table.add_row(*cells("trained to", champ.data_end.date(), chall.data_end.date()))
    table.add_row(
        *cells("sharpe per period", f"{d.champion_sharpe:.4f}", f"{d.challenger_sharpe:.4f}")
    )
    for key in ("sharpe", "cagr", "total_return", "max_drawdown", "turnover"):
        table.add_row(
            *cells(
                key,
                format_metric(key, result.champion_metrics.get(key)),
                format_metric(key, result.challenger_metrics.get(key)),
            )
        )
    table.add_row(
        *cells(
            "periods (unseen, costs on)",
            f"{d.n_periods}: {result.first_period.date()}..{result.last_period.date()}",
            "same",
        )
    )
    console.print(table)
    console.print(
        f"Test: {d.test}, Sharpe gain {d.statistic:+.4f} per period, p = {d.p_value:.4f} "
        f"(alpha {d.threshold:.4g}"
        + (
            f" = {d.threshold * result.looks:g} / {result.looks} looks at this pair"
            if result.looks > 1
            else ""
        )
        + f"; {d.n_bootstrap} resamples, mean block {d.mean_block_length:.1f} "
        f"bars, seed {d.seed}); periods start more than {result.gap_bars} bars (label horizon "
        "+ embargo) after both models' training data."
    )
    verdict = (
        f"v{chall.version} is the new champion"
        if result.promoted
        else f"v{champ.version} stays champion"
    )
    console.print(f"Decision (recorded): {verdict}; {d.reason()}")


@models_app.command("update")
def update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name, e.g. default.lightgbm.")],
    rounds: Annotated[int, typer.Option("--rounds", help="Boosting rounds to add.")] = 50,
    if_drifted: Annotated[
        bool,
        typer.Option("--if-drifted", help="Update only when the features drifted since training."),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Add boosting rounds to the champion on rows resolved since its training (a candidate)."""
    from alphaforge.cli.console import RichReporter
    from alphaforge.pipeline.lifecycle import update as run_update

    cfg = config_from(ctx, config)
    with RichReporter() as reporter:
        result = run_update(cfg, name, rounds=rounds, only_if_drifted=if_drifted, reporter=reporter)
    base = result.base
    _print_drift(result.drift, action="an online update (this command) or a retrain")
    if result.new is None:
        console.print(f"{name} v{base.version}: {result.skipped}.")
        return
    new = result.new
    table = Table(title=f"{name}: online update of champion v{base.version}", show_header=False)
    table.add_column("key")
    table.add_column("value")
    first = result.first_row.date() if result.first_row is not None else "n/a"
    last = result.last_row.date() if result.last_row is not None else "n/a"
    for key, value in (
        ("new version", f"v{new.version} ({new.stage})"),
        ("continued from", f"v{base.version} (trained to {base.data_end.date()})"),
        ("rows fitted", f"{result.rows} resolved rows, bars {first}..{last}"),
        ("trees", f"{result.trees_before} -> {result.trees_after} (+{result.rounds} rounds asked)"),
        ("data_end", new.data_end.date()),
    ):
        table.add_row(*cells(key, value))
    console.print(table)
    reason = result.record.reason if result.record is not None else ""
    console.print(f"Decision (recorded): {reason}.")


def _print_drift(drift: DriftReport | None, *, action: str) -> None:
    """Print the feature-drift check: none possible, a warning, or all clear."""
    if drift is None:
        console.print("Drift: too few bars after the model's training data to check yet.")
    elif drift.should_retrain:
        print_warning(f"drift: {'; '.join(drift.reasons)}; {action} is advised.")
    else:
        console.print(
            f"Drift: no feature with PSI >= {drift.psi_threshold} against the training data."
        )


def predict(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the scores to this CSV file.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Score the latest bar of every symbol with the registered champion models."""
    import pandas as pd

    from alphaforge.backtest.report import format_metric
    from alphaforge.pipeline.predict import (
        SCORE_MEANING,
        persist_predictions,
        predict_latest,
        write_predictions,
    )

    cfg = config_from(ctx, config)
    prediction = predict_latest(cfg)
    scores = prediction.scores
    models = list(prediction.versions)
    table = Table(title=f"Latest-bar scores: {SCORE_MEANING[cfg.labels.kind]}")
    extra = [c for c in ("side", "trade_score") if c in scores.columns]
    for column in ("rank", "symbol", "bar", *models, "ensemble", *extra, "agreement"):
        table.add_column(column, justify="left" if column in {"symbol", "bar"} else "right")
    for symbol, row in scores.iterrows():
        table.add_row(
            *cells(
                "-" if pd.isna(row["rank"]) else int(row["rank"]),
                symbol,
                str(pd_date(row["timestamp"])),
                *(f"{row[m]:.3f}" for m in models),
                f"{row['ensemble']:.3f}",
                *(format_metric(c, row[c]) for c in extra),
                format_metric("agreement", row["agreement"]),
            )
        )
    console.print(table)
    used = ", ".join(f"{v.name} v{v.version} ({v.stage})" for v in prediction.versions.values())
    console.print(f"Models: {used}; ensemble: {prediction.ensemble}")
    _print_drift(
        prediction.drift,
        action="retraining (alphaforge train, or alphaforge models update for boosting models)",
    )
    console.print(f"Kept for the dashboard: {persist_predictions(prediction, cfg)}")
    if out is not None:
        console.print(f"Written: {write_predictions(prediction, out)}")


def pd_date(value: object) -> object:
    """Return the date of a timestamp value for display."""
    date = getattr(value, "date", None)
    return date() if callable(date) else value
