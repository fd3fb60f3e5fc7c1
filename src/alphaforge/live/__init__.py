"""The trading node and what it raises: alerts go out through :mod:`alphaforge.live.notify`."""

from alphaforge.live.notify import Alert, Delivery, Notifier

__all__ = ["Alert", "Delivery", "Notifier"]
