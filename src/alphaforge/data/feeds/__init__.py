"""Live bar feeds: a venue's stream or poll of finished bars, one module per venue."""

from alphaforge.data.feeds.base import BarFeed, BarHandler, FeedStatus

__all__ = ["BarFeed", "BarHandler", "FeedStatus"]
