#!/usr/bin/env bash
# Regenerate the pinned Python requirements that generated projects receive.
#
#   templates/python/relock.sh             keep current pins where still valid, add what is new
#   templates/python/relock.sh --upgrade   move every pin to the newest release allowed
#
# Inputs (edit these): templates/python/parts/requirements/*.in
#   base.in                     every service (fastapi, granian, ...)
#   postgresql.in mariadb.in redis.in
#                               the driver of each database
#   dev.in                      test tools for requirements-dev.txt
# Outputs (never edit by hand), for DB in none postgresql mariadb redis:
#   DB.txt       base + driver, every package pinned with all its PyPI hashes;
#                becomes requirements.txt (pip install --require-hashes works).
#   DB-dev.txt   only the test packages that DB.txt lacks, pinned with hashes and
#                constrained to DB.txt; becomes requirements-dev.txt after
#                `-r requirements.txt`.
# The locks are universal (markers, every platform's hashes) and resolved for
# Python 3.11, the oldest interpreter that runs the unit tests.
# Afterwards every production lock is downloaded as wheels only for CPython 3.12
# and 3.13 on manylinux x86_64 and aarch64, so a release without those wheels
# (an image without a compiler could not build it) fails here, not in a user's
# `docker build`.
#
# Needs python3 (3.11+) and network access to PyPI. uv comes from PyPI into a
# scratch virtualenv that is removed on exit; set UV_VERSION to choose it.
set -euo pipefail

UV_VERSION=${UV_VERSION:-0.13.9}
pack=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) # this language pack, templates/<language>
root=$(cd "$pack/../.." && pwd)
dir="$pack/parts/requirements"
upgrade=()
case "${1:-}" in
  --upgrade) upgrade=(--upgrade) ;;
  "") ;;
  *) echo "usage: $0 [--upgrade]" >&2; exit 2 ;;
esac

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION"
uv="$scratch/venv/bin/uv"
pip="$scratch/venv/bin/pip"

compile() {
  # run inside the folder so annotations name the .in files, then point those
  # at pyproject.toml, which is where a generated project lists them.
  (cd "$dir" && "$uv" pip compile --quiet --universal --python-version 3.11 \
    --generate-hashes --no-header "${upgrade[@]}" "$@")
}

for db in none postgresql mariadb redis; do
  inputs=(base.in)
  [ "$db" = none ] || inputs+=("$db.in")
  echo "locking $db"
  compile "${inputs[@]}" -o "$db.txt"
  # the dev lock leaves out what requirements.txt already pins
  skip=()
  while read -r name; do skip+=(--no-emit-package "$name"); done \
    < <(grep -E '^[A-Za-z0-9]' "$dir/$db.txt" | sed -E 's/[ =;\\].*//')
  compile "${inputs[@]}" dev.in -c "$db.txt" "${skip[@]}" -o "$db-dev.txt"
  sed -i -E 's/-r (base|postgresql|mariadb|redis|dev)\.in$/pyproject.toml/' \
    "$dir/$db.txt" "$dir/$db-dev.txt"
done

# wheels only, for each interpreter and architecture the images support
for db in none postgresql mariadb redis; do
  for py in 3.12 3.13; do
    for arch in x86_64 aarch64; do
      platforms=(--platform "manylinux2014_$arch")
      for minor in $(seq 17 41); do platforms+=(--platform "manylinux_2_${minor}_$arch"); done
      echo "checking wheels: $db, CPython $py, $arch"
      "$pip" download --quiet --disable-pip-version-check --dest "$scratch/wheels" \
        --only-binary=:all: --no-deps --require-hashes \
        --implementation cp --python-version "$py" --abi "cp${py/./}" --abi abi3 --abi none \
        "${platforms[@]}" -r "$dir/$db.txt"
    done
  done
done
echo "done: review with git diff -- templates/python/parts/requirements"
