"""`keelson adopt`: containerize an existing Node.js, Python or Go project.

The project is inspected (`detect`) for the answers keelson's template needs:
language and runtime version, package manager and lockfile, the start command
(npm's `start` script or `main`; the ASGI/WSGI app or console script; the Go main
package), the port, the database its dependencies name and a health endpoint.
The template's adopted-project pack (`templates/adopt`) then renders only the
container files (Dockerfile, .dockerignore, compose.yaml, k8s/, CONTAINER.md), the
delivery pipeline (`ci`) and a renovate.json5 unless the project has its own, and the
answers file, which makes the project a keelson service like any other for `keelson
check` and `keelson update`.

Detection fails clearly: an unknown or ambiguous project gets one line naming
what was found and the `--data` answer that settles it, exit code 2, and nothing
is written. Existing container files are never overwritten silently.

Modules: `findings` (the proposal and the scans every language shares), `markers`
(which language, from the packs' marker files), `detection` (`detect`: the packs'
facts and `templates/<language>/detect.py`, loaded by `generator.packs`), `writing`
(render, merge, commit) and `command` (`adopt_project`).
"""

from generator.adopt.command import adopt_project
from generator.adopt.detection import RENOVATE_CONFIGS, detect, renovate_config
from generator.adopt.findings import Detection, DetectionError
from generator.adopt.writing import Adopted

__all__ = [
    "RENOVATE_CONFIGS",
    "Adopted",
    "Detection",
    "DetectionError",
    "adopt_project",
    "detect",
    "renovate_config",
]
