#!/bin/sh
# keelson stand-in: the contract of the official redis image's entrypoint.
set -e

# `docker run redis:8 --appendonly yes` or `... /path/redis.conf` mean redis-server
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ]; then
	# the official build turns protected mode off at compile time; Debian's binary
	# keeps it on, so say so on the command line unless the user decides
	decided=
	for arg; do
		case "$arg" in
			--protected-mode) decided=1 ;;
			*.conf) if [ -r "$arg" ] && grep -qiE '^[[:space:]]*protected-mode[[:space:]]' "$arg"; then decided=1; fi ;;
		esac
	done
	if [ -z "$decided" ]; then
		set -- "$@" --protected-mode no
	fi

	if [ "$(id -u)" = '0' ]; then
		# own the data directory, then restart as redis keeping PID 1
		find . \! -user redis -exec chown redis '{}' +
		exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
	fi

	# a private umask unless the user set one
	um="$(umask)"
	if [ "$um" = '0022' ]; then
		umask 0077
	fi
fi

exec "$@"
