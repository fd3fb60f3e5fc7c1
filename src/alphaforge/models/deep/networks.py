"""PyTorch sequence networks: (batch, lookback, n_features) -> (batch, n_tasks, n_classes) logits.

Every network reads one window that ends at the decision bar t (see
:mod:`alphaforge.models.deep.windows`), summarises it into one vector for bar t, and maps that
vector through a head with one block of ``n_classes`` logits per task. One task is the usual
case; several tasks share the encoder and predict, say, the 1/5/10/21-bar labels at once.

Because the window itself stops at t, no layer needs a causal mask to stay leakage-free: the
bidirectional LSTM's backward pass and the Transformer's full self-attention only see bars
t - lookback + 1 .. t. The convolutions are still causal (left-padded), so position i of a
feature map summarises bars up to i and "the last position" means "bar t".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

ARCHITECTURES = ("lstm_attention", "gru", "bilstm", "cnn_lstm", "transformer", "tcn")
"""Names of the available sequence architectures."""


@dataclass(frozen=True, slots=True)
class NetworkSpec:
    """Everything needed to rebuild a network's layers (its weights live in a state dict).

    Attributes
    ----------
    architecture
        One of :data:`ARCHITECTURES`.
    n_features, n_classes, n_tasks
        Input features per bar, classes per task, tasks (horizons) in the head.
    hidden_size
        Width of the recurrent state / model dimension / convolution channels.
    num_layers
        Recurrent layers, Transformer encoder layers, or TCN residual blocks.
    num_heads
        Attention heads (``lstm_attention``, ``transformer``); must divide ``hidden_size``.
    kernel_sizes
        ``cnn_lstm``: parallel convolution kernel sizes; ``tcn``: its first entry is the
        kernel size of every dilated convolution.
    dropout
        Dropout probability between layers and before the head.
    """

    architecture: str
    n_features: int
    n_classes: int
    n_tasks: int = 1
    hidden_size: int = 64
    num_layers: int = 1
    num_heads: int = 4
    kernel_sizes: tuple[int, ...] = (3, 5, 7)
    dropout: float = 0.1

    def check(self) -> None:
        """Raise ``ValueError`` for an inconsistent specification."""
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"Unknown architecture {self.architecture!r}; known: {', '.join(ARCHITECTURES)}."
            )
        for name in ("n_features", "n_classes", "n_tasks", "hidden_size", "num_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.architecture in ("lstm_attention", "transformer") and (
            self.num_heads < 1 or self.hidden_size % self.num_heads
        ):
            raise ValueError(
                f"num_heads ({self.num_heads}) must divide hidden_size ({self.hidden_size})."
            )
        if not self.kernel_sizes or min(self.kernel_sizes) < 1:
            raise ValueError(f"kernel_sizes must be positive, got {self.kernel_sizes}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}.")


class LSTMAttention(nn.Module):
    """LSTM, then multi-head self-attention over its outputs, each with a residual and norm."""

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        h = spec.hidden_size
        self.project = nn.Linear(spec.n_features, h)
        self.lstm = nn.LSTM(
            h,
            h,
            num_layers=spec.num_layers,
            batch_first=True,
            dropout=spec.dropout if spec.num_layers > 1 else 0.0,
        )
        self.norm1 = nn.LayerNorm(h)
        self.attention = nn.MultiheadAttention(
            h, spec.num_heads, dropout=spec.dropout, batch_first=True
        )
        self.norm2 = nn.LayerNorm(h)
        self.out_size = h

    def forward(self, x: Tensor) -> Tensor:
        projected = self.project(x)
        recurrent, _ = self.lstm(projected)
        states = self.norm1(projected + recurrent)
        # Bar t's state queries the whole window (every key is at or before t).
        query = states[:, -1:, :]
        attended, _ = self.attention(query, states, states, need_weights=False)
        out: Tensor = self.norm2(query + attended)[:, 0, :]
        return out


class GRUEncoder(nn.Module):
    """Stacked GRU; the summary is the last layer's state at bar t."""

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        self.gru = nn.GRU(
            spec.n_features,
            spec.hidden_size,
            num_layers=spec.num_layers,
            batch_first=True,
            dropout=spec.dropout if spec.num_layers > 1 else 0.0,
        )
        self.out_size = spec.hidden_size

    def forward(self, x: Tensor) -> Tensor:
        _, last = self.gru(x)
        out: Tensor = last[-1]
        return out


class BiLSTMEncoder(nn.Module):
    """Bidirectional LSTM over the window (t - lookback + 1 .. t, never beyond t).

    The summary joins the forward pass's final state (it has read up to t) with the backward
    pass's final state (it has read from t back to the window's first bar).
    """

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            spec.n_features,
            spec.hidden_size,
            num_layers=spec.num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=spec.dropout if spec.num_layers > 1 else 0.0,
        )
        self.out_size = 2 * spec.hidden_size

    def forward(self, x: Tensor) -> Tensor:
        _, (last, _) = self.lstm(x)
        # h_n is (layers * 2, batch, hidden): the last layer's forward then backward state.
        return torch.cat((last[-2], last[-1]), dim=1)


def _causal_conv(channels_in: int, channels_out: int, kernel: int, dilation: int) -> nn.Module:
    """Return a Conv1d whose output at position i sees inputs i - (kernel - 1) * dilation .. i."""
    return nn.Sequential(
        nn.ConstantPad1d(((kernel - 1) * dilation, 0), 0.0),
        nn.Conv1d(channels_in, channels_out, kernel, dilation=dilation),
    )


class CNNLSTM(nn.Module):
    """Parallel causal convolutions of several widths, concatenated, then an LSTM."""

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        h = spec.hidden_size
        self.convs = nn.ModuleList(
            _causal_conv(spec.n_features, h, k, 1) for k in spec.kernel_sizes
        )
        self.activation = nn.ReLU()
        self.dropout = nn.Dropout(spec.dropout)
        self.lstm = nn.LSTM(
            h * len(spec.kernel_sizes),
            h,
            num_layers=spec.num_layers,
            batch_first=True,
            dropout=spec.dropout if spec.num_layers > 1 else 0.0,
        )
        self.out_size = h

    def forward(self, x: Tensor) -> Tensor:
        channels = x.transpose(1, 2)  # Conv1d wants (batch, features, time).
        maps = torch.cat([conv(channels) for conv in self.convs], dim=1)
        sequence = self.dropout(self.activation(maps)).transpose(1, 2)
        _, (last, _) = self.lstm(sequence)
        out: Tensor = last[-1]
        return out


def sinusoidal_encoding(length: int, width: int, device: torch.device) -> Tensor:
    """Return the ``(length, width)`` sine/cosine position code of Vaswani et al. (2017).

    Position 0 is the window's oldest bar; ``length - 1`` is bar t.
    """
    position = torch.arange(length, dtype=torch.float32, device=device)[:, None]
    rate = torch.exp(
        torch.arange(0, width, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / width)
    )
    code = torch.zeros(length, width, device=device)
    code[:, 0::2] = torch.sin(position * rate)
    code[:, 1::2] = torch.cos(position * rate)[:, : width // 2]
    return code


class TransformerEncoderNet(nn.Module):
    """Transformer encoder with sinusoidal positions; the summary is bar t's output.

    No causal mask: the window already ends at t, so attending to every position in it uses
    only information known at t's close.
    """

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        h = spec.hidden_size
        self.project = nn.Linear(spec.n_features, h)
        layer = nn.TransformerEncoderLayer(
            h,
            spec.num_heads,
            dim_feedforward=2 * h,
            dropout=spec.dropout,
            batch_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, spec.num_layers, enable_nested_tensor=False)
        self.out_size = h

    def forward(self, x: Tensor) -> Tensor:
        h = self.project(x)
        h = h + sinusoidal_encoding(h.shape[1], h.shape[2], h.device)
        out: Tensor = self.encoder(h)[:, -1, :]
        return out


class _TemporalBlock(nn.Module):
    """Two dilated causal convolutions with a residual connection (Bai et al., 2018)."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int, dilation: int, p: float):
        super().__init__()
        self.body = nn.Sequential(
            _causal_conv(channels_in, channels_out, kernel, dilation),
            nn.ReLU(),
            nn.Dropout(p),
            _causal_conv(channels_out, channels_out, kernel, dilation),
            nn.ReLU(),
            nn.Dropout(p),
        )
        self.skip: nn.Module = (
            nn.Conv1d(channels_in, channels_out, 1)
            if channels_in != channels_out
            else nn.Identity()
        )
        self.activation = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.activation(self.body(x) + self.skip(x))
        return out


class TCN(nn.Module):
    """Temporal convolutional network: residual blocks with dilations 1, 2, 4, ...

    The receptive field is ``1 + 2 * (kernel - 1) * (2 ** num_layers - 1)`` bars; positions
    before the window are zero-padded (causal padding), never filled from after t.
    """

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        kernel = spec.kernel_sizes[0]
        blocks = []
        channels = spec.n_features
        for level in range(spec.num_layers):
            blocks.append(
                _TemporalBlock(channels, spec.hidden_size, kernel, 2**level, spec.dropout)
            )
            channels = spec.hidden_size
        self.blocks = nn.Sequential(*blocks)
        self.out_size = spec.hidden_size

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.blocks(x.transpose(1, 2))[:, :, -1]
        return out


_ENCODERS: dict[str, type[nn.Module]] = {
    "lstm_attention": LSTMAttention,
    "gru": GRUEncoder,
    "bilstm": BiLSTMEncoder,
    "cnn_lstm": CNNLSTM,
    "transformer": TransformerEncoderNet,
    "tcn": TCN,
}


class SequenceNetwork(nn.Module):
    """An encoder of the window plus a linear head with ``n_tasks`` blocks of class logits."""

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        spec.check()
        self.spec = spec
        self.encoder = _ENCODERS[spec.architecture](spec)
        width = int(self.encoder.out_size)  # type: ignore[arg-type]
        self.dropout = nn.Dropout(spec.dropout)
        self.head = nn.Linear(width, spec.n_tasks * spec.n_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(batch, lookback, n_features)`` to ``(batch, n_tasks, n_classes)`` logits."""
        summary = self.dropout(self.encoder(x))
        logits: Tensor = self.head(summary)
        return logits.view(x.shape[0], self.spec.n_tasks, self.spec.n_classes)


def build_network(spec: NetworkSpec) -> SequenceNetwork:
    """Return a freshly initialised network (seed torch first for reproducible weights)."""
    return SequenceNetwork(spec)
