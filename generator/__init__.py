"""keelson: container-image scaffolding generator built on copier.

The public API is small; the CLI (`keelson`) is a thin layer over it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from generator.catalogue import (
    Catalogue,
    CatalogueTemplate,
    Preset,
    find_catalogue,
    load_catalogue,
    new_from_preset,
    parse_catalogue,
)
from generator.errors import (
    CatalogueError,
    DestinationError,
    InvalidAnswerError,
    KeelsonError,
    TemplateError,
    UpdateConflictError,
    UsageError,
)
from generator.render import new_service
from generator.template import TemplateSpec, default_template
from generator.update import (
    CheckResult,
    UpdateResult,
    check_service,
    update_service,
)

try:
    __version__ = version("keelson")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "Catalogue",
    "CatalogueError",
    "CatalogueTemplate",
    "CheckResult",
    "DestinationError",
    "InvalidAnswerError",
    "KeelsonError",
    "Preset",
    "TemplateError",
    "TemplateSpec",
    "UpdateConflictError",
    "UpdateResult",
    "UsageError",
    "__version__",
    "check_service",
    "default_template",
    "find_catalogue",
    "load_catalogue",
    "new_from_preset",
    "new_service",
    "parse_catalogue",
    "update_service",
]
