"""`keelson catalogue` and `keelson fleet`: the team's presets, and every service it lists."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from generator.catalogue import require_catalogue
from generator.commands import shared
from generator.delivery import delivery_exit_code, fleet_update
from generator.errors import UsageError
from generator.fleet import JOBS, TIMEOUT, fleet_exit_code, fleet_status, format_fleet
from generator.governance import (
    describe_preset,
    format_table,
    select_presets,
    validate_catalogue,
)


def add_commands(commands: Any) -> None:
    """Add `keelson catalogue` and `keelson fleet`, each with its actions."""
    _add_catalogue(commands)
    _add_fleet(commands)


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
    shared.add_catalogue_option(listing)
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
    shared.add_catalogue_option(validate)
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
    shared.add_catalogue_option(show)
    show.set_defaults(handler=_cmd_catalogue_show)
    catalogue.set_defaults(handler=_need_action)


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
    shared.add_catalogue_option(status)
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
    shared.add_catalogue_option(update)
    shared.add_trust(update)
    update.add_argument(
        "--jobs", type=int, default=JOBS, help=f"services checked at once (default: {JOBS})"
    )
    update.add_argument(
        "--timeout", type=float, default=TIMEOUT,
        help=f"seconds each clone or push may take (default: {TIMEOUT:g})",
    )  # fmt: skip
    update.set_defaults(handler=_cmd_fleet_update)
    fleet.set_defaults(handler=_need_action)


def _need_action(args: argparse.Namespace) -> int:
    actions = {"catalogue": "list, show PRESET, validate", "fleet": "status, update"}[args.command]
    first = actions.split(",")[0]
    raise UsageError(
        f"{args.command} needs an action: {actions} (`keelson {args.command} {first}`)"
    )
