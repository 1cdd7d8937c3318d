#!/usr/bin/env bash
# Regenerate the Go module data behind templates/go/project/go.mod.jinja and go.sum.jinja:
#   templates/go/parts/deps/<database>.mod   go.mod after its `module` line
#   templates/go/parts/deps/<database>.sum   go.sum
# for every `database` answer (none has no dependencies).
#
# Usage (from anywhere):
#   templates/go/relock.sh                         relock the versions pinned below
#   PGX_VERSION=latest templates/go/relock.sh      move a driver (then pin it below)
#
# For each database it renders the real template into a temporary folder, so
# that `go mod tidy` sees the real imports (tests included), resets go.mod to
# `go $GO_BASE` with no requirements, runs `go get DRIVER@VERSION` and
# `go mod tidy` through the Go module proxy, and copies the result back. The go
# directive stays at $GO_BASE unless a driver needs a newer one; it must stay
# at or below the oldest `go_version` choice in copier.yml. Finally it renders
# again and checks that the emitted files build, test, verify and are tidy.
#
# Needs: go (never downloads a toolchain: GOTOOLCHAIN=local) and the
# project's .venv with copier. Network: the Go module proxy only.
set -euo pipefail

GO_BASE=${GO_BASE:-1.24}
PGX_VERSION=${PGX_VERSION:-v5.13.0}     # github.com/jackc/pgx/v5
MYSQL_VERSION=${MYSQL_VERSION:-v1.10.1} # github.com/go-sql-driver/mysql
REDIS_VERSION=${REDIS_VERSION:-v9.23.0} # github.com/redis/go-redis/v9

pack=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) # this language pack, templates/<language>
root=$(cd "$pack/../.." && pwd)
copier="$root/.venv/bin/copier"
deps="$pack/parts/deps"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=local

driver() {
	case $1 in
	none) ;;
	postgresql) echo "github.com/jackc/pgx/v5@$PGX_VERSION" ;;
	mariadb) echo "github.com/go-sql-driver/mysql@$MYSQL_VERSION" ;;
	redis) echo "github.com/redis/go-redis/v9@$REDIS_VERSION" ;;
	*) echo "unknown database $1" >&2 && return 1 ;;
	esac
}

render() { # database destination
	"$copier" copy -q --defaults --skip-tasks --data "language=${pack##*/}" --data "database=$1" "$root" "$2" >/dev/null
}

mkdir -p "$deps"
for db in none postgresql mariadb redis; do
	# the template includes these files, so they must exist before rendering
	[[ -f $deps/$db.mod ]] || printf 'go %s\n' "$GO_BASE" >"$deps/$db.mod"
	[[ -f $deps/$db.sum ]] || : >"$deps/$db.sum"

	dir="$work/lock-$db"
	render "$db" "$dir"
	(
		cd "$dir"
		module=$(sed -n 's/^module //p' go.mod)
		printf 'module %s\n\ngo %s\n' "$module" "$GO_BASE" >go.mod
		: >go.sum
		pkg=$(driver "$db")
		if [[ -n $pkg ]]; then
			go get "$pkg"
		fi
		go mod tidy
	)
	# keep what follows the module line, without the blank lines around it
	sed '0,/^module /d' "$dir/go.mod" | sed '/./,$!d' >"$deps/$db.mod"
	cp "$dir/go.sum" "$deps/$db.sum"
	echo "locked $db: $(sed -n 's/^go //p' "$deps/$db.mod" | head -n1) $(driver "$db")"
done

# what a user gets must work as shipped: read-only module graph, no changes
export GOFLAGS=-mod=readonly
for db in none postgresql mariadb redis; do
	dir="$work/check-$db"
	render "$db" "$dir"
	(
		cd "$dir"
		cp go.mod go.mod.orig
		cp go.sum go.sum.orig
		go mod verify >/dev/null
		go vet ./...
		go test -count=1 ./... >/dev/null
		GOFLAGS='' go mod tidy
		diff -u go.mod.orig go.mod
		diff -u go.sum.orig go.sum
	)
	echo "checked $db"
done
