"""keelson: container-image scaffolding generator built on copier.

The public API is small; the CLI (`keelson`) is a thin layer over it. Make a
service (`create_service`, `new_service`, `new_from_preset`), keep it up to date
(`update_service`, `check_service`), and prove it (`ensure_images`,
`verify_service`, `verify_kubernetes`). Every error is a `KeelsonError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - the names below load on first use
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
    from generator.check import CheckResult, check_service
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
    from generator.outcomes import UpdateResult
    from generator.render import Created, RenderOptions, ServiceOptions, create_service, new_service
    from generator.template import TemplateSpec, default_template
    from generator.update import update_service
    from generator.verify import Report, verify_service

__version__: str
# the public names load their module on first use (PEP 562): the `keelson` command
# catches Ctrl-C before copier and the rest are imported (generator.launch)
_HOMES = {
    "ANSWERS_FILE": "generator.answers",
    "Catalogue": "generator.catalogue",
    "CatalogueError": "generator.errors",
    "CatalogueTemplate": "generator.catalogue",
    "CheckResult": "generator.check",
    "Created": "generator.render",
    "DestinationError": "generator.errors",
    "DockerError": "generator.errors",
    "ImageResult": "generator.images",
    "InvalidAnswerError": "generator.errors",
    "KeelsonError": "generator.errors",
    "KubeReport": "generator.kubernetes",
    "KubernetesError": "generator.errors",
    "NotTrustedError": "generator.errors",
    "Preset": "generator.catalogue",
    "RenderOptions": "generator.render",
    "Report": "generator.verify",
    "ServiceOptions": "generator.render",
    "StandInError": "generator.errors",
    "TemplateError": "generator.errors",
    "TemplateSpec": "generator.template",
    "UpdateConflictError": "generator.errors",
    "UpdateResult": "generator.outcomes",
    "UsageError": "generator.errors",
    "VerifyError": "generator.errors",
    "check_service": "generator.check",
    "create_service": "generator.render",
    "default_template": "generator.template",
    "ensure_images": "generator.images",
    "find_catalogue": "generator.catalogue",
    "load_catalogue": "generator.catalogue",
    "new_from_preset": "generator.catalogue",
    "new_service": "generator.render",
    "parse_catalogue": "generator.catalogue",
    "read_answers": "generator.answers",
    "required_images": "generator.images",
    "standin_supported": "generator.images",
    "update_service": "generator.update",
    "verify_kubernetes": "generator.kubernetes",
    "verify_service": "generator.verify",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module when the name is first used."""
    from importlib import import_module  # noqa: PLC0415 - on first use, on purpose
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    if name == "__version__":
        try:
            value: Any = version("keelson")
        except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            value = "0.0.0"
    elif name in _HOMES:
        value = getattr(import_module(_HOMES[name]), name)
    else:
        raise AttributeError(f"module 'generator' has no attribute {name!r}")
    globals()[name] = value
    return value


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
