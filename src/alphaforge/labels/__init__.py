"""Labels: forward returns and classes, each with the start and end time of its information."""

from alphaforge.labels.forward import LabelSet, forward_log_return

__all__ = ["LabelSet", "forward_log_return"]
