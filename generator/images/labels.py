"""The labels every stand-in carries, and where the stand-in recipes live."""

from __future__ import annotations

from pathlib import Path

__all__ = ["RECIPE_LABEL", "RUNTIME_LABEL", "STANDINS_DIR", "STANDIN_LABEL", "VERSION_LABEL"]

STANDIN_LABEL = "io.keelson.standin"
"""Label set to ``1`` on every stand-in keelson builds."""
RUNTIME_LABEL = "io.keelson.standin.runtime"
"""Label naming the runtime inside a stand-in (``cpython``, ``node``, ...)."""
VERSION_LABEL = "io.keelson.standin.runtime-version"
"""Label holding the exact runtime version found inside a stand-in."""
RECIPE_LABEL = "io.keelson.standin.recipe"
"""Label holding a digest of the recipe a stand-in was built from; a stand-in whose
recipe changed since is rebuilt by the ``auto`` policy."""

STANDINS_DIR = Path(__file__).resolve().parent.parent / "standins"
"""One folder per stand-in kind (its Dockerfile and files), ``generator/standins``."""
