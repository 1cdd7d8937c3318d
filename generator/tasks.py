"""Tasks copier runs inside a freshly rendered service (`_tasks` in copier.yml).

It runs with copier's Python from the template checkout, so it imports nothing
from keelson and only the standard library.

`db-password` writes one random database password to the two git-ignored files
that compose and the dev overlay's kustomize secretGenerator read (each folder
ignoring itself with a `.gitignore` of `*`), once: an existing password is
kept, so `copier update` never changes it. Both folders are private to the owner
(0700). The kustomize copy is 0600. The compose copy stays 0644 inside its private
folder: compose bind-mounts a file secret as it is (it ignores uid and mode) and
the app runs as UID 10001, which could not read a 0600 file the developer owns.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

TARGETS = {
    Path(".secrets/db_password"): 0o644,
    # the dev cluster's only: prod's password never comes from a file of the service
    Path("k8s/overlays/dev/secrets/db-password"): 0o600,
}


def db_password() -> None:
    """Write the service's database password files, keeping an existing one."""
    existing = [path.read_text(encoding="utf-8").strip() for path in TARGETS if path.is_file()]
    value = existing[0] if existing else secrets.token_urlsafe(24)
    for path, mode in TARGETS.items():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        # git-ignored from inside too, for a project whose own .gitignore keelson
        # does not write (`keelson adopt`)
        ignore = path.parent / ".gitignore"
        if not ignore.is_file():
            ignore.write_text("*\n", encoding="utf-8")
        if not path.is_file():
            path.touch(mode=0o600)
            path.write_text(value + "\n", encoding="utf-8")
        path.chmod(mode)


if __name__ == "__main__":
    if sys.argv[1:] != ["db-password"]:
        sys.exit("usage: tasks.py db-password")
    db_password()
