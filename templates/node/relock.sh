#!/usr/bin/env bash
# Regenerates templates/node/parts/lock/<database>.json: the package-lock.json that
# templates/package-lock.json.jinja emits for a Node.js project using that
# database. The versions themselves are pinned in templates/package.json.jinja;
# run this after changing one there, and commit both.
#
#   templates/node/relock.sh                 # every database
#   templates/node/relock.sh redis mariadb   # only these
#
# For each database it renders package.json with copier under the project name
# keelson-lock-placeholder (the template swaps in the real name), resolves it
# against the public npm registry with `npm install --package-lock-only` (no
# node_modules, no install scripts), and stores the lock. It then prints the
# newest published version of each direct dependency, so stale pins stand out.
#
# Needs node and npm >= 9 (lockfileVersion 3) and copier (.venv/bin/copier, or
# set COPIER).
set -euo pipefail

pack=$(cd "$(dirname "$0")" && pwd) # this language pack, templates/<language>
root=$(cd "$pack/../.." && pwd)
copier=${COPIER:-$root/.venv/bin/copier}
registry=https://registry.npmjs.org/
placeholder=keelson-lock-placeholder
databases=("$@")
if [ ${#databases[@]} -eq 0 ]; then
  databases=(none postgresql mariadb redis)
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for database in "${databases[@]}"; do
  case $database in
    none | postgresql | mariadb | redis) ;;
    *) echo "unknown database '$database' (none, postgresql, mariadb, redis)" >&2; exit 2 ;;
  esac
  project=$scratch/$database
  "$copier" copy -q --defaults --skip-tasks --data "language=${pack##*/}" --data "database=$database" \
    --data "project_name=$placeholder" "$root" "$project" >/dev/null 2>&1
  (
    cd "$project"
    rm -f package-lock.json
    npm install --package-lock-only --ignore-scripts --no-audit --no-fund \
      --registry="$registry" >/dev/null
  )
  lock=$project/package-lock.json
  # The lock is included as a Jinja template: it must hold no Jinja syntax.
  if grep -qE '\{\{|\{%|\{#' "$lock"; then
    echo "$lock contains Jinja delimiters; cannot include it" >&2
    exit 1
  fi
  cp "$lock" "$pack/parts/lock/$database.json"
  echo "wrote templates/node/parts/lock/$database.json"
done

echo
echo "direct dependencies (pinned -> newest on the registry):"
for database in "${databases[@]}"; do
  node -e '
    const deps = require(process.argv[1]).dependencies;
    for (const [name, version] of Object.entries(deps)) console.log(name, version);
  ' "$scratch/$database/package.json"
done | sort -u | while read -r name version; do
  latest=$(npm view --registry="$registry" "$name" version)
  marker=""
  [ "$latest" = "$version" ] || marker="  (newer: $latest)"
  echo "  $name $version$marker"
done
