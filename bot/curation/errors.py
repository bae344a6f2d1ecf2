"""The changes a moderator asked for that were refused, each with a message written for that moderator."""

from __future__ import annotations

from collections.abc import Sequence

from bot.cards.model import Card
from bot.cards.validate import Problem

__all__ = ["CurationError", "NotFoundError", "StaleCardError", "StaleFileError", "ValidationFailed"]


class CurationError(Exception):
    """A change that was refused; ``message`` is written for the moderator who asked for it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(CurationError):
    """An unknown card or collection."""


class StaleFileError(CurationError):
    """The file changed on disk since it was loaded, so writing it now would lose someone's edit."""


class StaleCardError(CurationError):
    """The card changed since the form was opened, so saving the form would revert someone's edit.

    ``opened`` is the card as the form showed it, ``current`` the card as it is now.
    """

    def __init__(self, message: str, opened: Card, current: Card) -> None:
        super().__init__(message)
        self.opened = opened
        self.current = current


class ValidationFailed(CurationError):
    """The change would make an invalid card or file; ``problems`` lists every error with line and column."""

    def __init__(self, message: str, problems: Sequence[Problem]) -> None:
        super().__init__(message)
        self.problems = tuple(problems)
