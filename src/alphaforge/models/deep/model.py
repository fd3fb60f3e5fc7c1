"""``SequenceModel``: the PyTorch sequence networks behind the estimator protocol.

How sequence context reaches the model
--------------------------------------
``X`` is either

* 3-D ``(n_rows, lookback, n_features)`` windows, as :func:`~alphaforge.models.deep.windows.
  gather_windows` makes them (each ends at its row's bar t), or
* 2-D ``(n_rows, lookback * n_features)`` rows, each such window flattened oldest bar first
  (``windows.reshape(n_rows, -1)``, what the walk-forward's window design passes), reshaped
  with the model's ``lookback``. With the default ``lookback=1`` a plain feature matrix is a
  batch of length-1 sequences, so the model also works where callers only have rows.

The model never builds windows itself: it cannot know which rows belong to which symbol.

Labels are class codes ``0..K-1`` as floats, one column per task: ``y`` of shape ``(n,)`` is one
task; ``(n, n_tasks)`` trains a multi-task head (e.g. the 1/5/10/21-bar labels), where NaN marks
a label not known for that row and task. ``predict_proba`` returns the first task's
probabilities; :meth:`SequenceModel.predict_proba_tasks` returns all of them.

Device: resolved at construction by :func:`alphaforge.models.device.resolve_device`, as every
model here does, so ``device`` always reads ``"cpu"`` or ``"cuda"``: ``"auto"`` picks CUDA when
PyTorch can use a GPU, and ``"cuda"`` without one falls back to the CPU with a
``RuntimeWarning``. A model saved on a GPU machine loads on a CPU-only one the same way.

Early stopping follows the project's boosting models: ``max_epochs`` plays ``n_estimators``,
``early_stopping_rounds`` is the patience in epochs (0 ignores ``eval_set`` entirely), and
``best_iteration_`` is the 1-based epoch whose weights were kept (``max_epochs`` without a
validation block).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import torch

from alphaforge.models.base import Matrix, Vector
from alphaforge.models.deep.networks import ARCHITECTURES, NetworkSpec, SequenceNetwork
from alphaforge.models.deep.trainer import Scaler, TrainingConfig, seeded, train_network
from alphaforge.models.device import resolve_device

_CONFIG_FILE = "config.json"
_WEIGHTS_FILE = "weights.pt"
_FORMAT = 1


class SequenceModel:
    """A PyTorch sequence classifier over windows that end at each row's bar.

    Parameters
    ----------
    architecture
        One of ``lstm_attention``, ``gru``, ``bilstm``, ``cnn_lstm``, ``transformer``, ``tcn``.
    lookback
        Bars per window when ``X`` is 2-D (see the module docstring); 3-D ``X`` carries its own.
    hidden_size, num_layers, num_heads, kernel_sizes, dropout
        Network size; see :class:`~alphaforge.models.deep.networks.NetworkSpec`.
    learning_rate, weight_decay, batch_size, max_epochs, early_stopping_rounds, restart_epochs,
    restart_mult, grad_clip
        Optimisation; see :class:`~alphaforge.models.deep.trainer.TrainingConfig`.
    class_weight
        ``"balanced"`` weights each class by ``n / (K * count)`` over the training labels;
        ``None`` weights classes equally. Multiplies ``sample_weight``.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"``; stored resolved to ``"cpu"`` or ``"cuda"``.
    random_state
        Seeds weight initialisation, dropout and batch order.
    n_jobs
        CPU threads torch uses while fitting and predicting.
    """

    def __init__(
        self,
        *,
        architecture: str = "gru",
        lookback: int = 1,
        hidden_size: int = 64,
        num_layers: int = 1,
        num_heads: int = 4,
        kernel_sizes: tuple[int, ...] = (3, 5, 7),
        dropout: float = 0.1,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-2,
        batch_size: int = 256,
        max_epochs: int = 50,
        early_stopping_rounds: int = 5,
        restart_epochs: int = 10,
        restart_mult: int = 1,
        grad_clip: float = 1.0,
        class_weight: Literal["balanced"] | None = None,
        device: str = "auto",
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.architecture = architecture
        self.lookback = lookback
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.kernel_sizes = kernel_sizes
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping_rounds = early_stopping_rounds
        self.restart_epochs = restart_epochs
        self.restart_mult = restart_mult
        self.grad_clip = grad_clip
        self.class_weight = class_weight
        # Resolved here so ``device`` always reads "cpu" or "cuda", as the protocol promises.
        self.device = resolve_device(device, "torch")
        self.random_state = random_state
        self.n_jobs = n_jobs

    def get_params(self) -> dict[str, Any]:
        """Return the constructor's parameters."""
        return {
            "architecture": self.architecture,
            "lookback": self.lookback,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "kernel_sizes": tuple(self.kernel_sizes),
            "dropout": self.dropout,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "batch_size": self.batch_size,
            "max_epochs": self.max_epochs,
            "early_stopping_rounds": self.early_stopping_rounds,
            "restart_epochs": self.restart_epochs,
            "restart_mult": self.restart_mult,
            "grad_clip": self.grad_clip,
            "class_weight": self.class_weight,
            "device": self.device,
            "random_state": self.random_state,
            "n_jobs": self.n_jobs,
        }

    # ----------------------------------------------------------------------------- fitting

    def fit(
        self,
        X: Matrix,
        y: Vector,
        *,
        sample_weight: Vector | None = None,
        eval_set: tuple[Matrix, Vector] | None = None,
    ) -> Self:
        """Fit on windows ``X`` and labels ``y``; stop early on ``eval_set`` only.

        The scaler (median imputation, standardisation) is fitted on the training rows
        (each window's last bar) and applied unchanged to ``eval_set``.
        """
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"Unknown architecture {self.architecture!r}; known: {', '.join(ARCHITECTURES)}."
            )
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be None or 'balanced', got {self.class_weight!r}.")
        for name in ("batch_size", "max_epochs", "restart_epochs", "restart_mult"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.early_stopping_rounds < 0:
            raise ValueError(
                f"early_stopping_rounds must be >= 0, got {self.early_stopping_rounds}."
            )
        windows = self._windows(X)
        labels = self._label_matrix(y, len(windows))
        known = labels[~np.isnan(labels)]
        if known.size == 0:
            raise ValueError("y holds no known label.")
        if np.any(known < 0) or np.any(known != np.round(known)):
            raise ValueError("Labels must be class codes 0..K-1 (non-negative integers).")
        classes = np.unique(known)
        weights = self._sample_weight(sample_weight, len(windows))

        device = torch.device(self.device)
        scaler = Scaler.fit(windows[:, -1, :])
        codes = _encode(labels, classes)
        class_weight = None
        if self.class_weight == "balanced":
            counts = np.bincount(codes[codes >= 0], minlength=classes.size)
            class_weight = (codes[codes >= 0].size / (classes.size * counts)).astype(np.float32)
        validation = None
        if eval_set is not None and len(eval_set[1]) and self.early_stopping_rounds > 0:
            X_val = self._windows(eval_set[0], n_features=windows.shape[2])
            y_val = self._label_matrix(eval_set[1], len(X_val), n_tasks=labels.shape[1])
            validation = (scaler.transform(X_val), _encode(y_val, classes))

        spec = NetworkSpec(
            architecture=self.architecture,
            n_features=windows.shape[2],
            n_classes=classes.size,
            n_tasks=labels.shape[1],
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            kernel_sizes=tuple(self.kernel_sizes),
            dropout=self.dropout,
        )
        spec.check()
        config = TrainingConfig(
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            patience=self.early_stopping_rounds,
            restart_epochs=self.restart_epochs,
            restart_mult=self.restart_mult,
            grad_clip=self.grad_clip,
            seed=self.random_state,
        )
        with seeded(self.random_state, device, self.n_jobs):
            network = SequenceNetwork(spec)
            result = train_network(
                network,
                scaler.transform(windows),
                codes,
                sample_weight=weights,
                class_weight=class_weight,
                validation=validation,
                config=config,
                device=device,
            )
        self.network_ = network
        self.scaler_ = scaler
        self.classes_: Vector = classes.astype(np.float64)
        self.n_features_in_ = int(windows.shape[2])
        self.lookback_ = int(windows.shape[1])
        self.n_tasks_ = int(labels.shape[1])
        self.best_iteration_ = result.best_epoch
        self.n_epochs_ = result.epochs_run
        self.history_ = {"train_loss": result.train_loss, "val_loss": result.val_loss}
        return self

    # -------------------------------------------------------------------------- predicting

    def predict_proba_tasks(self, X: Matrix) -> npt.NDArray[np.float64]:
        """Return ``(n_rows, n_tasks, n_classes)`` probabilities, classes in ``classes_`` order."""
        windows = self._windows(X, n_features=self.n_features_in_)
        if windows.shape[1] != self.lookback_:
            raise ValueError(
                f"Windows hold {windows.shape[1]} bars; the model was fitted on {self.lookback_}."
            )
        scaled = torch.from_numpy(self.scaler_.transform(windows))
        device = torch.device(self.device)
        out = np.empty((len(windows), self.n_tasks_, self.classes_.size), dtype=np.float64)
        self.network_.eval()
        with seeded(self.random_state, device, self.n_jobs), torch.no_grad():
            for start in range(0, len(windows), self.batch_size):
                logits = self.network_(scaled[start : start + self.batch_size].to(device))
                proba = torch.softmax(logits.double(), dim=-1)
                out[start : start + self.batch_size] = proba.cpu().numpy()
        return out

    def predict_proba(self, X: Matrix) -> Matrix:
        """Return the first task's probabilities, one column per class in ``classes_`` order."""
        return self.predict_proba_tasks(X)[:, 0, :]

    def predict(self, X: Matrix) -> Vector:
        """Return the first task's most probable class code."""
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)], dtype=np.float64)

    # ------------------------------------------------------------------------- persistence

    def save(self, directory: Path) -> None:
        """Write ``config.json`` (parameters, scaler, classes) and ``weights.pt`` (state dict)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": _FORMAT,
            "params": {**self.get_params(), "kernel_sizes": list(self.kernel_sizes)},
            "learned": {
                "classes": self.classes_.tolist(),
                "n_features_in": self.n_features_in_,
                "lookback": self.lookback_,
                "n_tasks": self.n_tasks_,
                "median": self.scaler_.median.tolist(),
                "mean": self.scaler_.mean.tolist(),
                "scale": self.scaler_.scale.tolist(),
                "best_iteration": self.best_iteration_,
                "n_epochs": self.n_epochs_,
                "history": self.history_,
            },
        }
        (directory / _CONFIG_FILE).write_text(json.dumps(payload, indent=2), encoding="utf-8")
        state = {k: v.detach().cpu() for k, v in self.network_.state_dict().items()}
        torch.save(state, directory / _WEIGHTS_FILE)

    @classmethod
    def load(cls, directory: Path) -> Self:
        """Restore a model written by :meth:`save`, on its ``device`` (CPU if CUDA is absent)."""
        directory = Path(directory)
        payload = json.loads((directory / _CONFIG_FILE).read_text(encoding="utf-8"))
        if payload.get("format") != _FORMAT:
            raise ValueError(f"Unsupported SequenceModel format {payload.get('format')!r}.")
        params = dict(payload["params"])
        params["kernel_sizes"] = tuple(params["kernel_sizes"])
        model = cls(**params)
        learned = payload["learned"]
        classes = np.asarray(learned["classes"], dtype=np.float64)
        spec = NetworkSpec(
            architecture=model.architecture,
            n_features=int(learned["n_features_in"]),
            n_classes=classes.size,
            n_tasks=int(learned["n_tasks"]),
            hidden_size=model.hidden_size,
            num_layers=model.num_layers,
            num_heads=model.num_heads,
            kernel_sizes=tuple(model.kernel_sizes),
            dropout=model.dropout,
        )
        device = torch.device(model.device)
        network = SequenceNetwork(spec)
        state = torch.load(directory / _WEIGHTS_FILE, map_location=device, weights_only=True)
        network.load_state_dict(state)
        network.to(device).eval()
        model.network_ = network
        model.scaler_ = Scaler(
            np.asarray(learned["median"], dtype=np.float32),
            np.asarray(learned["mean"], dtype=np.float32),
            np.asarray(learned["scale"], dtype=np.float32),
        )
        model.classes_ = classes
        model.n_features_in_ = spec.n_features
        model.lookback_ = int(learned["lookback"])
        model.n_tasks_ = spec.n_tasks
        model.best_iteration_ = int(learned["best_iteration"])
        model.n_epochs_ = int(learned["n_epochs"])
        model.history_ = {k: list(v) for k, v in learned["history"].items()}
        return model

    # ----------------------------------------------------------------------------- helpers

    def _windows(self, X: npt.ArrayLike, n_features: int | None = None) -> npt.NDArray[np.float32]:
        data = np.asarray(X, dtype=np.float32)
        if data.ndim == 2:
            if self.lookback < 1 or data.shape[1] % self.lookback:
                raise ValueError(
                    f"A 2-D X needs lookback * n_features columns; {data.shape[1]} columns do "
                    f"not split into lookback={self.lookback} bars."
                )
            data = data.reshape(data.shape[0], self.lookback, data.shape[1] // self.lookback)
        elif data.ndim != 3:
            raise ValueError(f"X must be 2-D rows or 3-D windows, got shape {data.shape}.")
        if data.shape[0] == 0 or data.shape[1] == 0:
            raise ValueError(f"X holds no window (shape {data.shape}).")
        if n_features is not None and data.shape[2] != n_features:
            raise ValueError(f"X has {data.shape[2]} features per bar; expected {n_features}.")
        return data

    @staticmethod
    def _label_matrix(
        y: npt.ArrayLike, n_rows: int, n_tasks: int | None = None
    ) -> npt.NDArray[np.float64]:
        labels = np.asarray(y, dtype=np.float64)
        if labels.ndim == 1:
            labels = labels[:, None]
        if labels.ndim != 2 or labels.shape[0] != n_rows:
            raise ValueError(f"y must have {n_rows} rows (one per window), got {labels.shape}.")
        if n_tasks is not None and labels.shape[1] != n_tasks:
            raise ValueError(f"y has {labels.shape[1]} tasks; expected {n_tasks}.")
        return labels

    @staticmethod
    def _sample_weight(
        sample_weight: npt.ArrayLike | None, n_rows: int
    ) -> npt.NDArray[np.float32] | None:
        if sample_weight is None:
            return None
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.shape != (n_rows,):
            raise ValueError(f"sample_weight must have shape ({n_rows},), got {weights.shape}.")
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("sample_weight must be finite and non-negative.")
        return weights.astype(np.float32)


def _encode(
    labels: npt.NDArray[np.float64], classes: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """Map class codes to column indices of ``classes``; NaN and unseen codes become -1."""
    codes = np.full(labels.shape, -1, dtype=np.int64)
    known = ~np.isnan(labels)
    position = np.searchsorted(classes, labels[known])
    position = np.clip(position, 0, classes.size - 1)
    codes[known] = np.where(classes[position] == labels[known], position, -1)
    return codes
