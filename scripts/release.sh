#!/usr/bin/env bash
# Tag a release of keelson (template and CLI) on the current commit.
#
# The version has one home: the newest release heading of CHANGELOG.md, such as
# `## [0.2.0] - 2026-12-01` (setup.py reads the same heading for the package
# version). Move the [Unreleased] entries under a new heading, commit, then run
# this; it refuses a dirty tree, an existing tag and unreleased entries left over.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
fail() { printf 'release: %s\n' "$*" >&2; exit 1; }

version=$(sed -n 's/^## \[\([0-9][0-9]*\.[0-9][0-9]*\.[0-9][^]]*\)\].*/\1/p' CHANGELOG.md | head -n 1)
[ -n "$version" ] || fail "CHANGELOG.md has no release heading such as '## [0.2.0] - $(date +%F)'"
tag="v$version"

[ -z "$(git status --porcelain)" ] || fail "the working tree has uncommitted changes; commit them first"
if git rev-parse --quiet --verify "refs/tags/$tag" >/dev/null; then
  fail "$tag exists already; add a new release heading to CHANGELOG.md"
fi
# entries between [Unreleased] and the newest heading would miss the release
pending=$(awk '/^## \[Unreleased\]/{on=1; next} /^## /{on=0} on && NF' CHANGELOG.md)
[ -z "$pending" ] || fail "CHANGELOG.md lists entries under [Unreleased]; move them under [$version] first"

git tag --annotate "$tag" --message "keelson $tag"
printf 'release: tagged %s on %s; publish it with: git push origin %s\n' \
  "$tag" "$(git rev-parse --short HEAD)" "$tag"
