"""The one error root of keelson and its user-facing subclasses.

Every message is meant to be printed as is: one line that says what happened and,
where there is one, the next command to run.
"""

from __future__ import annotations


class KeelsonError(Exception):
    """Root of every error keelson reports to a user."""

    exit_code: int = 1


class UsageError(KeelsonError):
    """The command line or the answers are wrong; nothing was written."""

    exit_code = 2


class InvalidAnswerError(UsageError):
    """An answer failed the template's validation."""

    def __init__(self, field: str, message: str) -> None:
        """Build the error.

        Args:
            field: The question the answer was for.
            message: What is wrong and what is allowed.

        """
        self.field = field
        self.message = message
        super().__init__(f"invalid {field}: {message}")


class DestinationError(UsageError):
    """The destination folder cannot be used."""


class TemplateError(KeelsonError):
    """The template itself could not be read or rendered."""
