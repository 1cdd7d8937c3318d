"""Image references: a repository and a tag, normalised as Docker Hub names them."""

from __future__ import annotations

from dataclasses import dataclass

from generator.errors import StandInError

__all__ = ["Ref", "parse_ref"]


@dataclass(frozen=True)
class Ref:
    """An image reference split into a normalised repository and a tag."""

    repo: str
    tag: str

    @property
    def name(self) -> str:
        """The reference as ``repo:tag``."""
        return f"{self.repo}:{self.tag}"


def parse_ref(image: str) -> Ref:
    """Split an image reference, dropping Docker Hub's implicit prefixes.

    Raises:
        StandInError: The reference pins a digest, which no stand-in can match.

    """
    ref = image.strip()
    if "@" in ref:
        raise StandInError(
            f"{image}: a digest pins one exact upstream image; keelson cannot stand in "
            "for it. Pull it on a machine with registry access, or use a tag."
        )
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
    else:
        repo, tag = ref, "latest"
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/"):
        if repo.startswith(prefix):
            repo = repo[len(prefix) :]
            break
    repo = repo.removeprefix("library/")
    return Ref(repo.lower(), tag)
