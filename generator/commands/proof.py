"""`keelson verify` and `keelson images`: build, boot and probe a service, and its base images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from generator.commands import shared
from generator.errors import UsageError
from generator.images import ensure_images, required_images
from generator.kube_deploy import deploy_service
from generator.kubernetes import verify_kubernetes
from generator.verify import verify_service


def add_commands(commands: Any) -> None:
    """Add `keelson verify` and `keelson images`."""
    _add_verify(commands)
    _add_images(commands)


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
    shared.add_dir(verify)
    shared.add_standins(verify)
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
    shared.add_standins(images)
    images.set_defaults(handler=_cmd_images)
