"""Data: sources, calendars, validation and repair, universes, and incremental updates."""
