"""The errors a moderator sees when daily posts cannot be set up as asked."""

from __future__ import annotations

__all__ = ["DailyError", "NoEligibleCards"]


class DailyError(ValueError):
    """A user-facing error: the message is meant to be shown to the person who ran the command."""


class NoEligibleCards(DailyError):
    """No card matches the schedule's topic and collection filters."""
