"""keelson: container-image scaffolding generator built on copier.

The public API is small; the CLI (`keelson`) is a thin layer over it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from generator.errors import (
    DestinationError,
    InvalidAnswerError,
    KeelsonError,
    TemplateError,
    UsageError,
)
from generator.render import new_service
from generator.template import TemplateSpec, default_template

try:
    __version__ = version("keelson")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "DestinationError",
    "InvalidAnswerError",
    "KeelsonError",
    "TemplateError",
    "TemplateSpec",
    "UsageError",
    "__version__",
    "default_template",
    "new_service",
]
