"""The `keelson` command line: parses arguments and delegates to the public API.

Every failure is one line on stderr starting with `keelson: `, and the exit code is 2
for bad input (nothing written) and 1 for anything else.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from signal import SIGINT
from typing import Any

from copier.errors import DirtyLocalWarning

from generator import __version__, transaction
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
from generator.check import format_check
from generator.delivery import delivery_exit_code, fleet_update
from generator.errors import KeelsonError, UpdateConflictError, UsageError, one_line
from generator.fleet import JOBS, TIMEOUT, check_json, fleet_exit_code, fleet_status, format_fleet
from generator.governance import (
    describe_preset,
    format_table,
    select_presets,
    validate_catalogue,
)
from generator.images import ensure_images, required_images
from generator.kube_deploy import deploy_service
from generator.kubernetes import verify_kubernetes
from generator.pins import check_pinned, update_pinned
from generator.render import Created, check_destination, create_service
from generator.update import summary
from generator.verify import verify_service
from generator.yamlfile import load_yaml

Handler = Callable[[argparse.Namespace], int]


def parse_data(pairs: Sequence[str], data_file: Path | None) -> dict[str, Any]:
    """Merge `--data-file` and `--data KEY=VALUE` answers (the latter win).

    Raises:
        UsageError: A pair has no `=`, or the file is not a YAML mapping.

    """
    answers: dict[str, Any] = {}
    if data_file is not None:
        try:
            text = data_file.read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(f"--data-file {data_file}: {error.strerror}") from error
        except UnicodeDecodeError as error:
            raise UsageError(f"--data-file {data_file}: not UTF-8 text") from error
        loaded = load_yaml(text, f"--data-file {data_file}")
        if not isinstance(loaded, dict):
            raise UsageError(f"--data-file {data_file}: expected a mapping of answers")
        answers.update({str(k): v for k, v in loaded.items()})
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--data expects KEY=VALUE, got {pair!r}")
        answers[key.strip()] = value
    return answers


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
    answers = parse_data(args.data, args.data_file)
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
    _add_data(new, "answer a question (repeatable)")
    new.add_argument(
        "--template", metavar="PATH|URL", help="template to render (default: the keelson template)"
    )
    new.add_argument(
        "--vcs-ref", metavar="REF", help="template git ref (default: its newest release tag)"
    )
    _add_trust(new)
    new.add_argument("--preset", metavar="NAME", help="start from a preset of the team catalogue")
    new.add_argument("--catalogue", metavar="PATH|URL", help=CATALOGUE_HELP)
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
    _add_verbosity(new)
    new.set_defaults(handler=_cmd_new)


def _add_trust(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust",
        action="store_true",
        help="run the tasks and migrations of a template other than keelson's own",
    )


def _add_verbosity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show copier's progress and messages"
    )


CATALOGUE_HELP = (
    "team catalogue of templates and presets (default: $KEELSON_CATALOGUE, then "
    "<config dir>/keelson/catalogue.yml)"
)


def _add_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir", type=Path, nargs="?", default=Path("."), help="the service (default: .)"
    )


def _add_data(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--data", action="append", default=[], metavar="KEY=VALUE", help=help_text)
    parser.add_argument(
        "--data-file", type=Path, metavar="FILE", help="YAML file of answers; --data wins over it"
    )


def _cmd_update(args: argparse.Namespace) -> int:
    try:
        result, notes = update_pinned(
            args.dir,
            catalogue=args.catalogue,
            to=args.to,
            pretend=args.pretend,
            trust=args.trust or None,
            quiet=not args.verbose,
            data=parse_data(args.data, args.data_file),
            template=args.template,
        )
    except UpdateConflictError as error:
        if error.result.diff:
            print(error.result.diff, end="")
        for path in error.result.conflicts:
            print(f"conflict: {path}{_why(path, error.result.dropped)}")
        if error.result.pretend:
            rerun = _real_update(args, error.result.path)
            raise UpdateConflictError(error.result, rerun=rerun) from None
        raise
    if result.pretend:
        print(result.diff, end="")
    if not args.quiet or result.pretend:
        for line in [*summary(result), *notes]:
            print(f"keelson: {line}", file=sys.stderr)
    return 0


def _why(path: str, dropped: Sequence[str]) -> str:
    """Why a file the update kept is a conflict, when it is not a matter of markers."""
    if path not in dropped:
        return ""
    quoted = shlex.quote(path)
    return (
        ": the template no longer generates it and you changed it, so it was kept; "
        f"`git add {quoted}` keeps it, `git rm {quoted}` drops it"
    )


def _real_update(args: argparse.Namespace, where: Path) -> str:
    """Spell the `keelson update` command that does for real what a --pretend run showed."""
    words = ["keelson", "update", str(where)]
    if args.to is not None:
        words += ["--to", args.to]
    for pair in args.data:
        words += ["--data", pair]
    if args.data_file is not None:
        words += ["--data-file", str(args.data_file)]
    if args.trust:
        words.append("--trust")
    if args.catalogue:
        words += ["--catalogue", args.catalogue]
    return shlex.join(words)


def _add_update(commands: Any) -> None:
    update = commands.add_parser(
        "update",
        help="pull the template's newer version into a service",
        description=(
            "Update a generated service to a newer template version (copier update): "
            "your edits are kept; where both changed the same lines the file keeps both "
            "between conflict markers, the files are listed and the exit code is 1."
        ),
    )
    _add_dir(update)
    update.add_argument(
        "--to",
        metavar="REF",
        help="template version (git ref); default: the team catalogue's pin for the "
        "service's template, else its newest tag",
    )
    update.add_argument("--catalogue", metavar="PATH|URL", help=CATALOGUE_HELP)
    update.add_argument(
        "--template",
        metavar="PATH|URL",
        help="re-point the service to this template (a fork, a mirror, a moved repository); "
        "the update runs from it and the service records it",
    )
    update.add_argument(
        "--pretend",
        action="store_true",
        help="print the diff the update would make and write nothing",
    )
    _add_data(update, "change an answer (repeatable); the files follow it")
    _add_trust(update)
    _add_verbosity(update)
    update.set_defaults(handler=_cmd_update)


def _cmd_check(args: argparse.Namespace) -> int:
    if args.json:
        record = check_json(args.dir, catalogue=args.catalogue)
        print(json.dumps(record.to_dict(), indent=2))
        return 0 if record.state == "current" else 2 if record.state == "unknown" else 1
    result = check_pinned(args.dir, catalogue=args.catalogue)
    # "cannot tell" is a failure to report, not a result: stderr, as every failure
    failed = result.exit_code == 2
    try:
        for line in format_check(result):
            if failed:
                print(f"keelson: {line}" if line else line, file=sys.stderr)
            else:
                print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # `keelson check | head -1`: the reader has what it wanted; the verdict
        # still travels in the exit code
        _silence_stdout()
    return result.exit_code


def _silence_stdout() -> None:
    """Point stdout at /dev/null once its reader is gone, as well-behaved CLIs end.

    Python flushes stdout again at exit; into a closed pipe that would print
    "Exception ignored ... BrokenPipeError".
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _add_check(commands: Any) -> None:
    check = commands.add_parser(
        "check",
        help="tell whether a service is on the newest template version",
        description=(
            "Exit 0 when the service is on its template's newest version (or at the team "
            "catalogue's pin for it, newer releases mentioned); exit 1 with "
            "the releases (or commits) it missed and their changelog, or when files still "
            "hold conflict markers from an update; exit 2 when it cannot tell (for CI)."
        ),
    )
    _add_dir(check)
    check.add_argument("--catalogue", metavar="PATH|URL", help=CATALOGUE_HELP)
    check.add_argument(
        "--json",
        action="store_true",
        help="print the service's record as `keelson fleet status --json` does (same exit codes)",
    )
    check.set_defaults(handler=_cmd_check)


def _cmd_fleet_status(args: argparse.Namespace) -> int:
    catalogue = require_catalogue(args.catalogue)
    if args.jobs < 1 or args.timeout <= 0:
        raise UsageError("--jobs must be 1 or more and --timeout a positive number of seconds")
    records = fleet_status(catalogue, jobs=args.jobs, timeout=args.timeout)
    if args.json:
        print(json.dumps({"services": [r.to_dict() for r in records]}, indent=2))
    else:
        print("\n".join(format_fleet(records)))
    return fleet_exit_code(records)


def _add_fleet(commands: Any) -> None:
    fleet = commands.add_parser(
        "fleet",
        help="the state of every service the team catalogue lists",
        description="The services of the catalogue's `services:` list (docs/catalogue.md).",
    )
    actions = fleet.add_subparsers(dest="action", metavar="ACTION")
    status = actions.add_parser(
        "status",
        help="template, preset, version, pin and releases behind of every service",
        description=(
            "Clone every service shallowly (a few at a time) and check it as `keelson "
            "check` does, honouring the catalogue's pins: a table, or JSON with --json. "
            "Unreachable repositories are reported, never fatal. Exit 1 when any service "
            "is behind or broken."
        ),
    )
    status.add_argument("--json", action="store_true", help="print JSON for dashboards")
    status.add_argument("--catalogue", metavar="PATH|URL", help=CATALOGUE_HELP)
    status.add_argument(
        "--jobs", type=int, default=JOBS, help=f"services checked at once (default: {JOBS})"
    )
    status.add_argument(
        "--timeout", type=float, default=TIMEOUT,
        help=f"seconds the clone and check of each service may take (default: {TIMEOUT:g})",
    )  # fmt: skip
    status.set_defaults(handler=_cmd_fleet_status)
    update = actions.add_parser(
        "update",
        help="push an update branch to every behind service",
        description=(
            "For every service `fleet status` finds behind: a branch "
            "keelson/template-<version> with `keelson update` to the catalogue's pin (else "
            "the newest release) committed, conflicts committed with their markers and "
            "listed in the commit message, pushed to the service's remote without force. "
            "A rerun finds the branch there and changes nothing."
        ),
    )
    update.add_argument("--dry-run", action="store_true", help="say what would be pushed")
    update.add_argument("--catalogue", metavar="PATH|URL", help=CATALOGUE_HELP)
    _add_trust(update)
    update.add_argument(
        "--jobs", type=int, default=JOBS, help=f"services checked at once (default: {JOBS})"
    )
    update.add_argument(
        "--timeout", type=float, default=TIMEOUT,
        help=f"seconds each clone or push may take (default: {TIMEOUT:g})",
    )  # fmt: skip
    update.set_defaults(handler=_cmd_fleet_update)
    fleet.set_defaults(handler=_need_action)


def _cmd_fleet_update(args: argparse.Namespace) -> int:
    catalogue = require_catalogue(args.catalogue)
    if args.jobs < 1 or args.timeout <= 0:
        raise UsageError("--jobs must be 1 or more and --timeout a positive number of seconds")
    done = fleet_update(
        catalogue, dry_run=args.dry_run, trust=args.trust, jobs=args.jobs, timeout=args.timeout
    )
    for delivery in done:
        print(delivery.line())
    if not done:
        print("no service is behind", file=sys.stderr)
    return delivery_exit_code(done)


def _cmd_catalogue_list(args: argparse.Namespace) -> int:
    catalogue = require_catalogue(args.catalogue)
    chosen = select_presets(catalogue, tags=args.tag, owner=args.owner)
    if args.json:
        data = json.loads(catalogue.to_json())
        names = {p.name for p in chosen}
        data["presets"] = [p for p in data["presets"] if p["name"] in names]
        print(json.dumps(data, indent=2))
    else:
        print("\n".join(format_table(catalogue, chosen)))
    return 0


def _cmd_catalogue_validate(args: argparse.Namespace) -> int:
    catalogue = require_catalogue(args.catalogue)
    findings = validate_catalogue(catalogue, trust=args.trust)
    for line in findings:
        print(f"keelson: {line}", file=sys.stderr)
    if findings:
        return 2
    print(
        f"{catalogue.source}: {len(catalogue.templates)} template(s) and "
        f"{len(catalogue.presets)} preset(s), all valid"
    )
    return 0


def _cmd_catalogue_show(args: argparse.Namespace) -> int:
    catalogue = require_catalogue(args.catalogue)
    print("\n".join(describe_preset(catalogue, args.preset)))
    return 0


def _add_catalogue(commands: Any) -> None:
    catalogue = commands.add_parser(
        "catalogue",
        help="the team catalogue of templates and presets",
        description="Show the team catalogue (schema: docs/catalogue.md).",
    )
    actions = catalogue.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser(
        "list",
        help="list the presets",
        description="List the catalogue's presets: name, template, version, description.",
    )
    listing.add_argument("--json", action="store_true", help="print JSON for tools")
    listing.add_argument("--catalogue", metavar="PATH|URL", help=CATALOGUE_HELP)
    listing.add_argument(
        "--tag", action="append", default=[], metavar="TAG",
        help="only presets with this tag (repeatable: every one)",
    )  # fmt: skip
    listing.add_argument("--owner", metavar="OWNER", help="only presets with this owner")
    listing.set_defaults(handler=_cmd_catalogue_list)
    validate = actions.add_parser(
        "validate",
        help="check every template, ref and preset answer (for the catalogue's CI)",
        description=(
            "Check that every template is reachable with its ref present, and that every "
            "preset's answers are valid against its template's questions at that ref (the "
            "validators `keelson new` uses). One line per finding; exit 2 on any."
        ),
    )
    validate.add_argument("--catalogue", metavar="PATH|URL", help=CATALOGUE_HELP)
    validate.add_argument(
        "--trust",
        action="store_true",
        help="let templates other than keelson's use Jinja extensions (tasks never run)",
    )
    validate.set_defaults(handler=_cmd_catalogue_validate)
    show = actions.add_parser(
        "show",
        help="show one preset: template, ref, answers and the questions left to ask",
        description="Show a preset: its template and ref, answers, owner, tags, and "
        "the questions `keelson new --preset` still asks.",
    )
    show.add_argument("preset", metavar="PRESET")
    show.add_argument("--catalogue", metavar="PATH|URL", help=CATALOGUE_HELP)
    show.set_defaults(handler=_cmd_catalogue_show)
    catalogue.set_defaults(handler=_need_action)


def _need_action(args: argparse.Namespace) -> int:
    actions = {"catalogue": "list, show PRESET, validate", "fleet": "status, update"}[args.command]
    first = actions.split(",")[0]
    raise UsageError(
        f"{args.command} needs an action: {actions} (`keelson {args.command} {first}`)"
    )


def _cmd_verify(args: argparse.Namespace) -> int:
    log = (
        (lambda _msg: None)
        if args.quiet
        else (lambda msg: print(f"verify: {msg}", file=sys.stderr))
    )
    deploy_only = [
        flag for flag, given in (("--keep", args.keep), ("--registry", args.registry)) if given
    ] + (["--overlay"] if args.overlay is not None else [])
    if deploy_only and not args.deploy:
        raise UsageError(f"{deploy_only[0]}: only with --kubernetes --deploy")
    if args.deploy and not args.kubernetes:
        raise UsageError("--deploy: only with --kubernetes")
    if args.deploy:
        deployed = deploy_service(
            args.dir,
            context=args.context,
            overlay=args.overlay or "dev",
            registry=args.registry,
            keep=args.keep,
            standins=args.standins,
            log=log,
        )
        print(deployed.table())
        return 0 if deployed.ok else 1
    if args.kubernetes:
        kube = verify_kubernetes(args.dir, context=args.context, log=log)
        print(kube.table())
        return 0 if kube.ok else 1
    report = verify_service(args.dir, standins=args.standins, log=log)
    print(report.table())
    return 0 if report.ok else 1


STANDINS_HELP = (
    "base images missing locally and not pullable: 'auto' builds honest local "
    "stand-ins (default), 'build' rebuilds them, 'never' forbids them"
)


def _add_standins(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--standins", choices=["auto", "build", "never"], default="auto", help=STANDINS_HELP
    )


def _add_verify(commands: Any) -> None:
    verify = commands.add_parser(
        "verify",
        help="build, boot and probe a generated service",
        description=(
            "Build the image, boot the compose stack with --wait, probe /healthz, /readyz "
            "and the database round trip, check the non-root user and the graceful stop, "
            "print a pass/fail table and tear everything down. Exit 1 on any failure."
        ),
    )
    _add_dir(verify)
    _add_standins(verify)
    verify.add_argument("-q", "--quiet", action="store_true", help="print only the table")
    verify.add_argument(
        "--kubernetes",
        action="store_true",
        help="instead: server-side dry run of k8s/overlays/{dev,prod} against your cluster, "
        "reporting Pod Security violations (at the namespace's enforced level) and "
        "selector mismatches; changes nothing there",
    )
    verify.add_argument(
        "--context", metavar="NAME", help="kubeconfig context for --kubernetes (default: current)"
    )
    verify.add_argument(
        "--deploy",
        action="store_true",
        help="with --kubernetes: build and push the image, deploy an overlay into a "
        "throwaway namespace (Pod Security restricted), wait for the rollout, probe the "
        "endpoints through a port-forward to the Service, then delete the namespace",
    )
    verify.add_argument(
        "--overlay",
        choices=["dev", "prod"],
        default=None,
        help="overlay for --deploy (default: dev, which brings its own database)",
    )
    verify.add_argument(
        "--registry",
        metavar="HOST[:PORT][/PATH]",
        help="for --deploy: push the images there (the cluster pulls them from it); "
        "not needed for kind, k3d and minikube contexts, which get the images loaded",
    )
    verify.add_argument(
        "--keep", action="store_true", help="for --deploy: leave the namespace in place"
    )
    verify.set_defaults(handler=_cmd_verify)


def _cmd_images(args: argparse.Namespace) -> int:
    if not args.dir.is_dir():
        raise UsageError(f"--dir {args.dir}: no such folder (the service whose images to provide)")
    images = list(args.image) or required_images(args.dir)
    for result in ensure_images(images, policy=args.standins):
        version = f" ({result.runtime_version})" if result.runtime_version else ""
        print(f"{result.image}: {result.source}{version}")
    return 0


def _add_images(commands: Any) -> None:
    images = commands.add_parser(
        "images",
        help="make a service's base images available (offline stand-ins)",
        description=(
            "Make sure every base image a service names is present: local, pulled, or "
            "an honest stand-in built from Debian packages and registry runtimes."
        ),
    )
    images.add_argument(
        "image", nargs="*", help="images to provide (default: those DIR's service needs)"
    )
    images.add_argument("--dir", type=Path, default=Path("."), help="the service (default: .)")
    _add_standins(images)
    images.set_defaults(handler=_cmd_images)


def _cmd_adopt(args: argparse.Namespace) -> int:
    answers = parse_data(args.data, args.data_file)
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
    _add_dir(adopt)
    adopt.add_argument(
        "--defaults", action="store_true", help="take the detected answers without asking"
    )
    _add_data(
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
    _add_trust(adopt)
    adopt.add_argument(
        "--allow-dirty",
        action="store_true",
        help="render a template checkout with uncommitted changes (template authors)",
    )
    _add_verbosity(adopt)
    adopt.set_defaults(handler=_cmd_adopt)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="keelson",
        description="Generate, verify and update container-ready services.",
    )
    parser.add_argument("--version", action="version", version=f"keelson {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_new(commands)
    _add_adopt(commands)
    _add_update(commands)
    _add_check(commands)
    _add_catalogue(commands)
    _add_fleet(commands)
    _add_verify(commands)
    _add_images(commands)
    return parser


def _show_warning(  # noqa: PLR0917 - the signature warnings.showwarning requires
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    text = one_line(str(message))
    print(f"keelson: warning: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    warnings.showwarning = _show_warning
    # rendering a template checkout with uncommitted edits is what template
    # authors do all day; copier's warning about it is noise here
    warnings.filterwarnings("ignore", category=DirtyLocalWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    with transaction.interruptible():
        return _run(handler, args)


def _run(handler: Handler, args: argparse.Namespace) -> int:
    """Run a command's handler; turn every way it can end into one line and an exit code."""
    try:
        for line in _recover(args):
            print(f"keelson: {line}", file=sys.stderr)
        return handler(args)
    except KeyboardInterrupt as error:
        caught = error.signum if isinstance(error, transaction.Interrupted) else SIGINT
        return _interrupted(transaction.received() or caught)
    except BrokenPipeError:
        # the reader of stdout went away (`keelson ... | head -1`): end quietly
        # with the code of a process that SIGPIPE ended, as `yes | head -1` does
        _silence_stdout()
        return 128 + 13
    except Exception as error:
        if (arrived := transaction.received()) is not None:
            # a child process (git, a task) died of the same signal first
            return _interrupted(arrived)
        if isinstance(error, KeelsonError):
            print(f"keelson: {error}", file=sys.stderr)
            return error.exit_code
        # the last line of defence: one line, never a traceback
        detail = one_line(str(error)) or "no detail"
        print(
            f"keelson: unexpected error ({type(error).__name__}): {detail}; nothing was written",
            file=sys.stderr,
        )
        return 2


def _recover(args: argparse.Namespace) -> list[str]:
    """Roll back what an interrupted keelson command left half-written in the command's folder."""
    transaction.sweep_temp()  # scratch folders of keelson processes that were killed
    folder = getattr(args, "dir", None)
    if folder is None and getattr(args, "command", None) == "new":
        folder = args.dest or Path(".")
        transaction.sweep(Path(folder).absolute().parent)
    return transaction.recover(Path(folder)) if folder is not None else []


def _interrupted(signum: int) -> int:
    """Say truthfully what an interrupted command left behind; return 128 + the signal."""
    done = transaction.written()
    if done:
        print(
            f"keelson: interrupted after `{done[-1]}` had written its result "
            "(`git status` shows it)",
            file=sys.stderr,
        )
    else:
        print("keelson: interrupted; nothing was written", file=sys.stderr)
    return 128 + signum


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
