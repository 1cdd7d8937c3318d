"""keelson: container-image scaffolding generator built on copier.

The public API is small; the CLI (`keelson`) is a thin layer over it. Make a
service (`create_service`, `new_service`, `new_from_preset`), keep it up to date
(`update_service`, `check_service`), and prove it (`ensure_images`,
`verify_service`, `verify_kubernetes`). Every error is a `KeelsonError`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from generator.answers import ANSWERS_FILE, read_answers
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
    DockerError,
    InvalidAnswerError,
    KeelsonError,
    KubernetesError,
    NotTrustedError,
    StandInError,
    TemplateError,
    UpdateConflictError,
    UsageError,
    VerifyError,
)
from generator.images import ImageResult, ensure_images, required_images, standin_supported
from generator.kubernetes import KubeReport, verify_kubernetes
from generator.render import Created, RenderOptions, ServiceOptions, create_service, new_service
from generator.template import TemplateSpec, default_template
from generator.update import (
    CheckResult,
    UpdateResult,
    check_service,
    update_service,
)
from generator.verify import Report, verify_service

try:
    __version__ = version("keelson")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "ANSWERS_FILE",
    "Catalogue",
    "CatalogueError",
    "CatalogueTemplate",
    "CheckResult",
    "Created",
    "DestinationError",
    "DockerError",
    "ImageResult",
    "InvalidAnswerError",
    "KeelsonError",
    "KubeReport",
    "KubernetesError",
    "NotTrustedError",
    "Preset",
    "RenderOptions",
    "Report",
    "ServiceOptions",
    "StandInError",
    "TemplateError",
    "TemplateSpec",
    "UpdateConflictError",
    "UpdateResult",
    "UsageError",
    "VerifyError",
    "__version__",
    "check_service",
    "create_service",
    "default_template",
    "ensure_images",
    "find_catalogue",
    "load_catalogue",
    "new_from_preset",
    "new_service",
    "parse_catalogue",
    "read_answers",
    "required_images",
    "standin_supported",
    "update_service",
    "verify_kubernetes",
    "verify_service",
]
