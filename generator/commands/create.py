"""`keelson new` and `keelson adopt`: a service's files, made new or added to a project."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from generator.adopt import adopt_project
from generator.catalogue import (
    Catalogue,
    Preset,
    choose_preset,
    find_catalogue,
    load_catalogue,
    new_from_preset,
    require_catalogue,
)
from generator.commands import shared
from generator.errors import KeelsonError, UsageError
from generator.render import Created, check_destination, create_service


def add_commands(commands: Any) -> None:
    """Add `keelson new` and `keelson adopt`."""
    _add_new(commands)
    _add_adopt(commands)


def _offer_presets(args: argparse.Namespace) -> tuple[Catalogue, Preset] | None:
    """In a terminal, with nothing else asked for, offer the catalogue's presets."""
    bare = args.dest is None and not args.data and args.data_file is None
    bare = bare and not args.defaults and args.template is None and args.vcs_ref is None
    if not bare or not sys.stdin.isatty():
        return None
    location = find_catalogue(args.catalogue)
    if location is None:
        return None
    check_destination(Path("."))  # before any question: "." must be empty
    catalogue = load_catalogue(location)
    preset = choose_preset(catalogue)
    return (catalogue, preset) if preset else None


def _cmd_new(args: argparse.Namespace) -> int:
    answers = shared.parse_data(args.data, args.data_file)
    dest_arg: Path = args.dest or Path(".")
    chosen = None
    if args.preset:
        if args.template is not None:
            raise UsageError("--preset names its template; drop --template")
        catalogue = require_catalogue(args.catalogue)
        chosen = (catalogue, catalogue.preset(args.preset))
    else:
        chosen = _offer_presets(args)
    options: dict[str, Any] = {
        "data": answers,
        "defaults": args.defaults,
        "vcs_ref": args.vcs_ref,
        "quiet": not args.verbose,
        "trust": args.trust or None,
        "git": args.git,
    }
    if chosen is not None:
        catalogue, preset = chosen
        created = new_from_preset(dest_arg, preset, catalogue, **options)
    else:
        created = create_service(
            dest_arg, template=args.template, allow_dirty=args.allow_dirty, **options
        )
    if not args.quiet:
        for line in describe_created(created, given=args.dest):
            print(line, file=sys.stderr)
    return 0


def describe_created(created: Created, given: Path | None) -> list[str]:
    """Render what `keelson new` made as a short summary with the next steps."""
    answers = created.answers
    name = answers.get("project_name") or created.path.resolve().name
    parts = [str(answers[key]) for key in ("language", "database") if answers.get(key)]
    parts = ["no database" if part == "none" else part for part in parts]
    what = f" ({', '.join(parts)})" if parts else ""
    version = answers.get("_commit")
    lines = [
        f"keelson: created {name}{what} in {created.path}"
        + (f" from template version {version}" if version else "")
    ]
    lines += [f"keelson: kept your {name}" for name in created.kept]
    lines += [f"keelson: {created.git}"] if created.git != "git: committed" else []
    lines += [f"keelson: note: {note}" for note in created.notes]
    lines.append("")
    lines.append("Next steps:")
    if given is not None and given.resolve() != Path.cwd().resolve():
        lines.append(f"  cd {shlex.quote(str(given))}")
    if "port" in answers:
        lines.append("  docker compose up --build --wait")
        lines.append(f"  curl http://localhost:{answers['port']}/healthz")
    lines.append("  keelson check    # later: is a newer template version out?")
    return lines


def _add_new(commands: Any) -> None:
    new = commands.add_parser(
        "new",
        help="generate a new service",
        description="Generate a new service from the keelson template (copier copy).",
    )
    new.add_argument(
        "dest",
        type=Path,
        nargs="?",
        default=None,
        help="folder to create (must not exist or be empty; default: the current folder)",
    )
    new.add_argument(
        "--defaults",
        action="store_true",
        help="use the default answer for every question not given with --data",
    )
    shared.add_data(new, "answer a question (repeatable)")
    new.add_argument(
        "--template", metavar="PATH|URL", help="template to render (default: the keelson template)"
    )
    new.add_argument(
        "--vcs-ref", metavar="REF", help="template git ref (default: its newest release tag)"
    )
    shared.add_trust(new)
    new.add_argument("--preset", metavar="NAME", help="start from a preset of the team catalogue")
    shared.add_catalogue_option(new)
    new.add_argument(
        "--no-git",
        dest="git",
        action="store_false",
        help="do not `git init` the service and make its first commit",
    )
    new.add_argument(
        "--allow-dirty",
        action="store_true",
        help="render a template checkout with uncommitted changes (template authors; "
        "such a service cannot be updated)",
    )
    shared.add_verbosity(new)
    new.set_defaults(handler=_cmd_new)


def _cmd_adopt(args: argparse.Namespace) -> int:
    answers = shared.parse_data(args.data, args.data_file)
    adopted = adopt_project(
        args.dir,
        data=answers,
        defaults=args.defaults,
        force=args.force,
        skip_existing=args.skip_existing,
        template=args.template,
        vcs_ref=args.vcs_ref,
        allow_dirty=args.allow_dirty,
        trust=args.trust or None,
        quiet=not args.verbose,
    )
    if not args.quiet:
        for diff in adopted.diffs:
            print(diff, end="" if diff.endswith("\n") else "\n")
        for path in adopted.conflicts:
            print(f"conflict: {path}")
    if adopted.conflicts:
        raise KeelsonError(
            f"--force kept your edits and keelson's changes in {len(adopted.conflicts)} file(s) "
            f"with conflict markers: {', '.join(adopted.conflicts)}; edit each to keep the right "
            "lines between <<<<<<< and >>>>>>>, delete the markers, and commit"
        )
    if args.quiet:
        return 0
    if not adopted.written:
        print(
            f"keelson: nothing to write: {adopted.path} already holds every container file "
            "(kept as it is)",
            file=sys.stderr,
        )
        return 0
    recorded = adopted.answers
    what = ", ".join(
        str(recorded[key]) for key in ("language", "database", "port") if key in recorded
    )
    lines = [f"keelson: adopted {adopted.path} ({what}); wrote {', '.join(_top(adopted.written))}"]
    lines += [f"keelson: kept your {name}" for name in _top(adopted.skipped)]
    lines += [f"keelson: note: {note}" for note in adopted.notes]
    lines += [
        "",
        "Next steps:",
        "  review CONTAINER.md, then commit the files (`keelson update` needs them committed)",
        "  docker compose up --build --wait",
        "  keelson check    # later: is a newer template version out?",
    ]
    for line in lines:
        print(line, file=sys.stderr)
    return 0


def _top(paths: Sequence[str]) -> list[str]:
    """First path elements, in order, once each (k8s/base/x.yaml -> k8s/)."""
    seen: list[str] = []
    for path in paths:
        head, sep, _ = path.partition("/")
        name = head + ("/" if sep else "")
        if name not in seen:
            seen.append(name)
    return seen


def _add_adopt(commands: Any) -> None:
    adopt = commands.add_parser(
        "adopt",
        help="containerize an existing Node.js, Python or Go project",
        description=(
            "Inspect an existing project (language and version, package manager, start "
            "command, port, database, health endpoint), confirm the answers in a terminal "
            "(--defaults takes them as they are), and write only its container files: "
            "Dockerfile, .dockerignore, compose.yaml, k8s/, CONTAINER.md and the answers "
            "file, which `keelson update` keeps up to date."
        ),
    )
    shared.add_dir(adopt)
    adopt.add_argument(
        "--defaults", action="store_true", help="take the detected answers without asking"
    )
    shared.add_data(
        adopt,
        "give an answer instead of detecting it (repeatable), e.g. start_command='server.js'",
    )
    existing = adopt.add_mutually_exclusive_group()
    existing.add_argument(
        "--force",
        action="store_true",
        help="replace existing container files (their diff is shown first)",
    )
    existing.add_argument(
        "--skip-existing",
        action="store_true",
        help="keep existing container files and write only the missing ones",
    )
    adopt.add_argument(
        "--template", metavar="PATH|URL", help="template to render (default: the keelson template)"
    )
    adopt.add_argument(
        "--vcs-ref", metavar="REF", help="template git ref (default: its newest release tag)"
    )
    shared.add_trust(adopt)
    adopt.add_argument(
        "--allow-dirty",
        action="store_true",
        help="render a template checkout with uncommitted changes (template authors)",
    )
    shared.add_verbosity(adopt)
    adopt.set_defaults(handler=_cmd_adopt)
