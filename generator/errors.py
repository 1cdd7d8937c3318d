"""The one error root of keelson and every error class it raises.

Every message is meant to be printed as is: one line that says what happened and,
where there is one, the next command to run. The exit code travels with the error
(`exit_code`): 2 for bad input (nothing written), 1 for anything else.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - only for the annotation
    from generator.outcomes import UpdateResult


def one_line(text: str) -> str:
    """Fold a tool's message (copier's, git's) into one line for a keelson error."""
    return " ".join(text.split())


class KeelsonError(Exception):
    """Root of every error keelson reports to a user."""

    exit_code: int = 1

    def __init__(self, *args: object, exit_code: int | None = None) -> None:
        """Build the error.

        Args:
            *args: The message (as for any exception).
            exit_code: The exit code the command line ends with; the class's by default.

        """
        super().__init__(*args)
        if exit_code is not None:
            self.exit_code = exit_code


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


class NotTrustedError(UsageError):
    """The user declined to run a template's tasks; nothing was written."""

    exit_code = 1


class CatalogueError(UsageError):
    """The catalogue cannot be read or is not valid; nothing was written."""


class DockerError(KeelsonError):
    """The Docker client or Compose is missing, or a docker command failed."""


class StandInError(KeelsonError):
    """A base image is missing and no honest stand-in can be provided or built."""


class VerifyError(KeelsonError):
    """The service failed to build, boot or answer."""


class KubernetesError(KeelsonError):
    """kubectl is missing or the cluster cannot be reached."""


class UpdateConflictError(KeelsonError):
    """An update left files with conflicts that a person has to resolve."""

    def __init__(self, result: UpdateResult, rerun: str | None = None) -> None:
        """Build the error.

        Args:
            result: The update that left (or, in a dry run, would leave) conflicts.
            rerun: For a dry run, the command that makes the same update for real
                (the command line passes its own, flags included); by default
                `keelson update PATH`.

        """
        self.result = result
        files = ", ".join(result.conflicts)
        where = shlex.quote(str(result.path))
        if result.pretend:
            message = (
                f"updating {result.path} to {result.new_version} would leave conflicts in "
                f"{len(result.conflicts)} file(s): {files}; run "
                f"`{rerun or f'keelson update {where}'}` and resolve them"
            )
        else:
            message = (
                f"the update to {result.new_version} left conflicts in "
                f"{len(result.conflicts)} file(s): {files}; edit each to keep the right "
                "lines between <<<<<<< and >>>>>>>, delete the markers, `git add` and "
                f"commit; then run `keelson check {where}`"
            )
        super().__init__(message)
