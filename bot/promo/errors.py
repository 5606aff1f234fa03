"""Domain errors: a machine code plus the values a message needs."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused the request; `code` is stable, `params` fill the text."""

    def __init__(self, code: str, message: str = "", **params: Any) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code
        self.params = params


class NotFound(DomainError):
    """The thing asked for does not exist."""
