"""PyTorch sequence models (LSTM with attention, GRU, BiLSTM, CNN-LSTM, Transformer, TCN).

Importing this package registers one model per architecture in
:data:`alphaforge.models.base.MODELS` without importing torch: each factory imports
:class:`~alphaforge.models.deep.model.SequenceModel` when called and, if torch is missing,
raises a :class:`~alphaforge.core.errors.ConfigError` naming ``pip install 'alphaforge[deep]'``.
Import :mod:`alphaforge.models.deep.model` directly for the class itself (that imports torch).

The window helpers (:mod:`~alphaforge.models.deep.windows`) need only numpy and pandas.
"""

from __future__ import annotations

from collections.abc import Callable

from alphaforge.config.models import ModelConfig
from alphaforge.core.errors import ConfigError
from alphaforge.models.base import MODELS, Classifier
from alphaforge.models.deep.windows import gather_windows, trailing_positions

#: Registered names; the same strings as the ``architecture`` parameter.
SEQUENCE_MODELS = ("lstm_attention", "gru", "bilstm", "cnn_lstm", "transformer", "tcn")


def _factory(architecture: str) -> Callable[[ModelConfig, int, int], Classifier]:
    def build(config: ModelConfig, seed: int, n_jobs: int) -> Classifier:
        try:
            from alphaforge.models.deep.model import SequenceModel
        except ImportError as error:
            raise ConfigError(
                f"Model {config.name!r} needs PyTorch, which is not installed.",
                hint="Install it with: pip install 'alphaforge[deep]'.",
            ) from error
        # The patience is early_stopping_rounds (in epochs), shared with the boosting models;
        # the network's size and optimiser come from ModelConfig's PyTorch fields.
        return SequenceModel(
            architecture=architecture,
            lookback=config.deep.lookback,
            max_epochs=config.deep.epochs,
            learning_rate=config.deep.learning_rate,
            batch_size=config.deep.batch_size,
            early_stopping_rounds=config.deep.early_stopping_rounds,
            hidden_size=config.deep.hidden_size,
            device=config.device,
            random_state=seed,
            n_jobs=n_jobs,
        )

    return build


for _name in SEQUENCE_MODELS:
    MODELS.add(_name, _factory(_name))

__all__ = [
    "SEQUENCE_MODELS",
    "gather_windows",
    "trailing_positions",
]
