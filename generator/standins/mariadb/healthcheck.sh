#!/usr/bin/env bash
# keelson stand-in: the official mariadb image's healthcheck.sh, for the tests most
# compose files use. Usage: healthcheck.sh [--su-mysql] [--datadir=DIR]
#   [--defaults-file=F] [--defaults-extra-file=F] [--no-defaults] [--verbose]
#   [--connect] [--innodb_initialized] [--innodb_buffer_pool_loaded] [--mariadbupgrade]
# Without a test, --connect runs. Credentials come from DATADIR/.my-healthcheck.cnf,
# written by the entrypoint on first start. Exit 0 when every test passes.
# the tests are functions called by name from the argument list
# shellcheck disable=SC2329
set -eo pipefail

datadir=/var/lib/mysql
defaults_file=
extra_file=
nodefaults=
verbose=
tests=()

_process_sql() {
	local args=()
	if [ -n "$nodefaults" ]; then
		args+=(--no-defaults)
	fi
	if [ -n "$defaults_file" ]; then
		args+=(--defaults-file="$defaults_file")
	fi
	if [ -n "$extra_file" ]; then
		args+=(--defaults-extra-file="$extra_file")
	elif [ -z "$defaults_file" ] && [ -r "$datadir/.my-healthcheck.cnf" ]; then
		args+=(--defaults-extra-file="$datadir/.my-healthcheck.cnf")
	fi
	mariadb "${args[@]}" -h localhost --skip-ssl --batch --skip-column-names "$@"
}

# the server answers over TCP (during first-start initialisation it does not listen)
connect() {
	local s
	s="$(_process_sql -e 'SELECT @@skip_networking' 2>/dev/null)" || return 1
	[ "$s" = 0 ]
}

innodb_initialized() {
	local s
	s="$(_process_sql -e "SELECT 1 FROM information_schema.ENGINES WHERE engine = 'innodb' AND support IN ('YES', 'DEFAULT', 'ENABLED')" 2>/dev/null)" || return 1
	[ "$s" = 1 ]
}

innodb_buffer_pool_loaded() {
	local s
	s="$(_process_sql -e "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'INNODB_BUFFER_POOL_LOAD_STATUS'" 2>/dev/null)" || return 1
	[[ "$s" == 'Buffer pool(s) load completed at '* ]] || [ -z "$s" ]
}

mariadbupgrade() {
	local file="$datadir/mariadb_upgrade_info" server
	[ -r "$file" ] || return 1
	server="$(mariadbd --version | awk '{print $3}')"
	[ "$(cut -d- -f1 "$file")" = "${server%%-*}" ]
}

for arg; do
	case "$arg" in
		--su-mysql)
			if [ "$(id -u)" = 0 ]; then
				exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "${@/--su-mysql/}"
			fi
			;;
		--datadir=*) datadir="${arg#*=}" ;;
		--defaults-file=*) defaults_file="${arg#*=}" ;;
		--defaults-extra-file=*) extra_file="${arg#*=}" ;;
		--no-defaults) nodefaults=1 ;;
		--verbose) verbose=1 ;;
		--connect|--innodb_initialized|--innodb_buffer_pool_loaded|--mariadbupgrade)
			tests+=("${arg#--}")
			;;
		'') ;;
		*)
			echo "healthcheck.sh: unknown option '$arg'" >&2
			exit 1
			;;
	esac
done
if [ "${#tests[@]}" = 0 ]; then
	tests=(connect)
fi

for t in "${tests[@]}"; do
	if ! "$t"; then
		echo "healthcheck $t failed" >&2
		exit 1
	fi
	if [ -n "$verbose" ]; then
		echo "healthcheck $t successful"
	fi
done
exit 0
