"""Training loop for the sequence networks, plus the input scaler fitted on training rows.

AdamW with cosine annealing and warm restarts (stepped every batch, as a fractional epoch),
gradient-norm clipping, weighted cross-entropy, and early stopping on the validation block
only: the best epoch's weights are restored at the end. Everything random (weight
initialisation, dropout, batch order) is drawn from the seed.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn
from torch.nn import functional

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Scaler:
    """Per-feature imputation and standardisation, fitted on the training rows only.

    Attributes
    ----------
    median
        Training median of each feature; replaces NaN/inf (0 where a feature is all missing).
    mean, scale
        Mean and standard deviation of the imputed training rows (scale 1 where constant).
    """

    median: FloatArray
    mean: FloatArray
    scale: FloatArray

    @classmethod
    def fit(cls, rows: npt.ArrayLike) -> Scaler:
        """Fit on ``(n_rows, n_features)`` training rows (the bars the labels start at)."""
        data = np.asarray(rows, dtype=np.float64)
        data = np.where(np.isfinite(data), data, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column: handled below
            median = np.nanmedian(data, axis=0) if data.shape[0] else np.zeros(data.shape[1])
        median = np.where(np.isfinite(median), median, 0.0)
        filled = np.where(np.isnan(data), median, data)
        mean = filled.mean(axis=0) if data.shape[0] else np.zeros(data.shape[1])
        std = filled.std(axis=0) if data.shape[0] else np.ones(data.shape[1])
        scale = np.where(std > 0, std, 1.0)
        return cls(median.astype(np.float32), mean.astype(np.float32), scale.astype(np.float32))

    def transform(self, windows: npt.ArrayLike) -> FloatArray:
        """Impute and standardise ``(..., n_features)`` values; returns a new float32 array."""
        data = np.array(windows, dtype=np.float32)
        missing = ~np.isfinite(data)
        if missing.any():
            data[missing] = np.broadcast_to(self.median, data.shape)[missing]
        data -= self.mean
        data /= self.scale
        return data


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    """Optimisation settings.

    Attributes
    ----------
    learning_rate, weight_decay
        AdamW's peak learning rate and decoupled weight decay.
    batch_size
        Windows per gradient step.
    max_epochs
        Upper bound on passes over the training rows.
    patience
        Epochs without a lower validation loss before stopping; 0 runs all ``max_epochs``
        (the best validation epoch's weights are still restored).
    restart_epochs, restart_mult, min_learning_rate
        ``CosineAnnealingWarmRestarts``'s ``T_0`` (epochs), ``T_mult`` and ``eta_min``.
    grad_clip
        Maximum global gradient norm; 0 disables clipping.
    seed
        Seeds weight initialisation, dropout and batch order.
    """

    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    batch_size: int = 256
    max_epochs: int = 50
    patience: int = 5
    restart_epochs: int = 10
    restart_mult: int = 1
    min_learning_rate: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0


@dataclass(slots=True)
class TrainingResult:
    """What happened during training.

    Attributes
    ----------
    best_epoch
        1-based epoch whose weights were kept (the last epoch without a validation set).
    epochs_run
        Epochs actually run (fewer than ``max_epochs`` when stopped early).
    train_loss, val_loss
        Mean weighted cross-entropy per epoch; ``val_loss`` is empty without a validation set.
    """

    best_epoch: int = 0
    epochs_run: int = 0
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device, n_threads: int | None = None) -> Iterator[None]:
    """Run a block with torch seeded, deterministic algorithms on, and thread count set.

    The global RNG state, the deterministic-algorithms flag and the thread count are restored
    afterwards, so fitting a model leaves the process as it found it. On CUDA,
    ``warn_only=True`` lets ops without a deterministic kernel run (with a warning); exact
    GPU reproducibility of the recurrent layers also needs ``CUBLAS_WORKSPACE_CONFIG=:4096:8``
    set before CUDA starts.
    """
    devices = [device.index or 0] if device.type == "cuda" else []
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    previous_threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        if n_threads is not None:
            torch.set_num_threads(n_threads)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(previous, warn_only=previous_warn)
            torch.set_num_threads(previous_threads)


def weighted_loss(
    logits: Tensor, labels: Tensor, row_weight: Tensor, class_weight: Tensor | None
) -> tuple[Tensor, Tensor]:
    """Return the weighted cross-entropy sum and the total weight of a batch.

    ``logits`` is ``(batch, tasks, classes)``; ``labels`` ``(batch, tasks)`` class indices with
    -1 where a task's label is unknown (ignored). Each term is weighted by its row's weight
    times its class's weight; the mean loss is ``sum / weight``.
    """
    n_classes = logits.shape[-1]
    known = labels >= 0
    safe = labels.clamp(min=0)
    terms = functional.cross_entropy(
        logits.reshape(-1, n_classes), safe.reshape(-1), reduction="none"
    )
    weight = row_weight[:, None].expand_as(labels) * known
    if class_weight is not None:
        weight = weight * class_weight[safe]
    flat = weight.reshape(-1)
    return (terms * flat).sum(), flat.sum()


def _mean_loss(
    network: nn.Module,
    X: Tensor,
    y: Tensor,
    class_weight: Tensor | None,
    batch_size: int,
    device: torch.device,
) -> float:
    network.eval()
    total = torch.zeros((), dtype=torch.float64)
    weight = torch.zeros((), dtype=torch.float64)
    ones = torch.ones(X.shape[0])
    with torch.no_grad():
        for start in range(0, X.shape[0], batch_size):
            stop = start + batch_size
            s, w = weighted_loss(
                network(X[start:stop].to(device)),
                y[start:stop].to(device),
                ones[start:stop].to(device),
                class_weight,
            )
            total += s.double().cpu()
            weight += w.double().cpu()
    return float(total / weight) if weight > 0 else float("nan")


def train_network(
    network: nn.Module,
    X: FloatArray,
    y: IntArray,
    *,
    sample_weight: FloatArray | None = None,
    class_weight: FloatArray | None = None,
    validation: tuple[FloatArray, IntArray] | None = None,
    config: TrainingConfig,
    device: torch.device,
) -> TrainingResult:
    """Train ``network`` in place and return its history; the best weights are loaded at the end.

    Parameters
    ----------
    X, y
        Scaled ``(n, lookback, n_features)`` windows and ``(n, n_tasks)`` class indices (-1 for
        an unknown label).
    sample_weight
        Per-row weight (``None``: all 1).
    class_weight
        Per-class weight applied to the training and validation loss (``None``: all 1).
    validation
        Scaled validation windows and labels. Early stopping watches only this block; its
        loss is unweighted by rows. ``None`` or empty trains ``max_epochs`` epochs.
    device
        Where the network and each batch live; the data stay on the CPU until batched.
    """
    network.to(device)
    X_t = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    y_t = torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))
    weights = np.ones(len(X), dtype=np.float32) if sample_weight is None else sample_weight
    w_t = torch.from_numpy(np.ascontiguousarray(weights, dtype=np.float32))
    cw = None if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32)
    cw = None if cw is None else cw.to(device)
    has_validation = validation is not None and len(validation[0]) > 0
    if validation is not None and has_validation:
        X_v = torch.from_numpy(np.ascontiguousarray(validation[0], dtype=np.float32))
        y_v = torch.from_numpy(np.ascontiguousarray(validation[1], dtype=np.int64))

    optimizer = torch.optim.AdamW(
        network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optimizer,
        T_0=config.restart_epochs,
        T_mult=config.restart_mult,
        eta_min=config.min_learning_rate,
    )
    order_rng = torch.Generator().manual_seed(config.seed)
    n_rows = X_t.shape[0]
    n_batches = max(1, -(-n_rows // config.batch_size))
    result = TrainingResult()
    best_loss = float("inf")
    best_state: dict[str, Tensor] | None = None
    stale = 0
    for epoch in range(config.max_epochs):
        network.train()
        order = torch.randperm(n_rows, generator=order_rng)
        total, total_weight = 0.0, 0.0
        for batch in range(n_batches):
            index = order[batch * config.batch_size : (batch + 1) * config.batch_size]
            loss_sum, weight_sum = weighted_loss(
                network(X_t[index].to(device)),
                y_t[index].to(device),
                w_t[index].to(device),
                cw,
            )
            optimizer.zero_grad(set_to_none=True)
            if weight_sum.item() > 0:
                (loss_sum / weight_sum).backward()  # type: ignore[no-untyped-call]
                if config.grad_clip > 0:
                    nn.utils.clip_grad_norm_(network.parameters(), config.grad_clip)
                optimizer.step()
            scheduler.step(epoch + (batch + 1) / n_batches)
            total += float(loss_sum.detach())
            total_weight += float(weight_sum.detach())
        result.train_loss.append(total / total_weight if total_weight > 0 else float("nan"))
        result.epochs_run = epoch + 1
        if not has_validation:
            result.best_epoch = epoch + 1
            continue
        loss = _mean_loss(network, X_v, y_v, cw, config.batch_size, device)
        result.val_loss.append(loss)
        if loss < best_loss:
            best_loss, result.best_epoch, stale = loss, epoch + 1, 0
            best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        else:
            stale += 1
            if config.patience > 0 and stale >= config.patience:
                break
    if best_state is not None:
        network.load_state_dict(best_state)
    elif has_validation:  # the validation loss was never finite: keep the last weights
        result.best_epoch = result.epochs_run
    network.eval()
    return result
