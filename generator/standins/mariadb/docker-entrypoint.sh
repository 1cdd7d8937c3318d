#!/usr/bin/env bash
# keelson stand-in: the contract of the official mariadb image's entrypoint.
# MARIADB_ROOT_PASSWORD(_FILE) | MARIADB_ALLOW_EMPTY_ROOT_PASSWORD |
# MARIADB_RANDOM_ROOT_PASSWORD, MARIADB_ROOT_HOST, MARIADB_DATABASE, MARIADB_USER,
# MARIADB_PASSWORD(_FILE), MARIADB_PASSWORD_HASH, MARIADB_INITDB_SKIP_TZINFO, each
# also as its MYSQL_* alias; /docker-entrypoint-initdb.d/*.{sh,sql,sql.gz,sql.xz,sql.zst};
# a healthcheck user for healthcheck.sh; the server runs as mysql and as PID 1.
set -eo pipefail
shopt -s nullglob

mysql_log() {
	local type="$1"; shift
	printf '%s [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$type" "$*"
}
mysql_note() { mysql_log Note "$@"; }
mysql_warn() { mysql_log Warn "$@" >&2; }
mysql_error() {
	mysql_log ERROR "$@" >&2
	exit 1
}

# file_env VAR [DEFAULT]: VAR from $VAR, $VAR_FILE, the MYSQL_* alias or its _FILE
file_env() {
	local var="$1" def="${2:-}"
	local fileVar="${var}_FILE"
	local mysqlVar="${var/#MARIADB/MYSQL}"
	local fileMysqlVar="${mysqlVar}_FILE"
	if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
		mysql_error "Both $var and $fileVar are set (but are exclusive)"
	fi
	if [ "${!mysqlVar:-}" ] && [ "${!fileMysqlVar:-}" ]; then
		mysql_error "Both $mysqlVar and $fileMysqlVar are set (but are exclusive)"
	fi
	local val="$def"
	if [ "${!var:-}" ]; then
		val="${!var}"
	elif [ "${!fileVar:-}" ]; then
		val="$(< "${!fileVar}")"
	elif [ "${!mysqlVar:-}" ]; then
		val="${!mysqlVar}"
	elif [ "${!fileMysqlVar:-}" ]; then
		val="$(< "${!fileMysqlVar}")"
	fi
	export "$var"="$val"
	unset "$fileVar" "$mysqlVar" "$fileMysqlVar"
}

# true when the arguments only ask the server for help or its version
_mysql_want_help() {
	local arg
	for arg; do
		case "$arg" in
			-'?'|--help|--print-defaults|-V|--version) return 0 ;;
		esac
	done
	return 1
}

# mysql_get_config NAME ARGS...: the server's effective value of NAME
mysql_get_config() {
	local conf="$1"; shift
	"$@" --verbose --help 2>/dev/null \
		| awk -v conf="$conf" '$1 == conf && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }'
}

docker_setup_env() {
	declare -g DATADIR SOCKET DATABASE_ALREADY_EXISTS
	DATADIR="$(mysql_get_config 'datadir' "$@")"
	SOCKET="$(mysql_get_config 'socket' "$@")"

	file_env 'MARIADB_ROOT_HOST' '%'
	file_env 'MARIADB_DATABASE'
	file_env 'MARIADB_USER'
	file_env 'MARIADB_PASSWORD'
	file_env 'MARIADB_ROOT_PASSWORD'
	file_env 'MARIADB_PASSWORD_HASH'
	file_env 'MARIADB_ROOT_PASSWORD_HASH'
	file_env 'MARIADB_ALLOW_EMPTY_ROOT_PASSWORD'
	file_env 'MARIADB_RANDOM_ROOT_PASSWORD'
	file_env 'MARIADB_INITDB_SKIP_TZINFO'
	# MYSQL_ALLOW_EMPTY_PASSWORD is the old spelling of the empty-root switch
	: "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:=${MYSQL_ALLOW_EMPTY_PASSWORD:-}}"
	export MARIADB_ALLOW_EMPTY_ROOT_PASSWORD

	DATABASE_ALREADY_EXISTS=
	if [ -d "$DATADIR/mysql" ]; then
		DATABASE_ALREADY_EXISTS='true'
	fi
}

docker_verify_minimum_env() {
	if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ROOT_PASSWORD_HASH" ] \
		&& [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] && [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
		mysql_error $'Database is uninitialized and password option is not specified\n\tYou need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_HASH, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD'
	fi
	if [ -n "$MARIADB_USER" ] && [ "$MARIADB_USER" = 'root' ]; then
		mysql_error $'MARIADB_USER="root", MARIADB_USER and MARIADB_PASSWORD are for configuring a regular user and cannot be used for the root user\n\tRemove MARIADB_USER="root" and use one of the following to control the root user password:\n\t- MARIADB_ROOT_PASSWORD\n\t- MARIADB_ALLOW_EMPTY_ROOT_PASSWORD\n\t- MARIADB_RANDOM_ROOT_PASSWORD'
	fi
	if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD" ] && [ -z "$MARIADB_PASSWORD_HASH" ]; then
		mysql_warn 'MARIADB_USER specified, but missing MARIADB_PASSWORD or MARIADB_PASSWORD_HASH; user will not be created'
	fi
}

docker_create_db_directories() {
	local user
	user="$(id -u)"
	mkdir -p "$DATADIR"
	if [ "$user" = '0' ]; then
		find "$DATADIR" \! -user mysql \( -exec chown mysql: '{}' + -o -true \)
		# the socket directory may be a fresh tmpfs
		find "${SOCKET%/*}" -maxdepth 0 \! -user mysql \( -exec chown mysql: '{}' \; -o -true \)
	fi
}

docker_init_database_dir() {
	mysql_note 'Initializing database files'
	# arguments for the server ("mariadbd --foo") are passed on, without whitespace ones
	local serverArgs=() arg
	for arg in "${@:2}"; do
		if [[ "$arg" =~ [[:space:]] ]]; then
			mysql_warn "Not passing argument '$arg' to mariadb-install-db (it contains whitespace)"
		else
			serverArgs+=("$arg")
		fi
	done
	mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
		"${serverArgs[@]}" \
		--cross-bootstrap \
		--skip-test-db \
		--default-time-zone=SYSTEM --enforce-storage-engine= \
		--skip-log-bin \
		--expire-logs-days=0 \
		--loose-innodb_buffer_pool_load_at_startup=0 \
		--loose-innodb_buffer_pool_dump_at_shutdown=0
	mysql_note 'Database files initialized'
}

# a server on the socket only, so nothing outside sees a half-initialised database
docker_temp_server_start() {
	"$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" --wsrep_on=OFF \
		--expire-logs-days=0 \
		--skip-slave-start \
		--loose-innodb_buffer_pool_load_at_startup=0 \
		--skip-ssl --ssl-cert='' --ssl-key='' --ssl-ca='' \
		&
	declare -g MARIADB_PID
	MARIADB_PID=$!
	mysql_note "Waiting for server startup"
	local i
	for i in {30..0}; do
		if docker_process_sql --dont-use-mysql-root-password --database=mysql <<< 'SELECT 1' &> /dev/null; then
			break
		fi
		sleep 1
	done
	if [ "$i" = 0 ]; then
		mysql_error 'Unable to start server.'
	fi
}

docker_temp_server_stop() {
	kill "$MARIADB_PID"
	wait "$MARIADB_PID"
}

# docker_process_sql [mariadb args]: the client as root over the socket
docker_process_sql() {
	if [ '--dont-use-mysql-root-password' = "${1:-}" ]; then
		shift
		MYSQL_PWD='' mariadb --protocol=socket -uroot -hlocalhost --socket="$SOCKET" --skip-ssl "$@"
	else
		MYSQL_PWD=${MARIADB_ROOT_PASSWORD:-} mariadb --protocol=socket -uroot -hlocalhost --socket="$SOCKET" --skip-ssl "$@"
	fi
}

# docker_sql_escape_string_literal STRING: STRING escaped for a '...' literal
docker_sql_escape_string_literal() {
	local escaped=${1//\\/\\\\}
	printf '%s' "${escaped//\'/\\\'}"
}

# docker_process_init_files FILE...: run *.sh, *.sql, *.sql.gz, *.sql.xz, *.sql.zst
docker_process_init_files() {
	local f
	printf '\n'
	for f; do
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					mysql_note "$0: running $f"
					"$f"
				else
					mysql_note "$0: sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql)     mysql_note "$0: running $f"; docker_process_sql < "$f"; printf '\n' ;;
			*.sql.gz)  mysql_note "$0: running $f"; gunzip -c "$f" | docker_process_sql; printf '\n' ;;
			*.sql.xz)  mysql_note "$0: running $f"; xzcat "$f" | docker_process_sql; printf '\n' ;;
			*.sql.zst) mysql_note "$0: running $f"; zstd -dc "$f" | docker_process_sql; printf '\n' ;;
			*)         mysql_warn "$0: ignoring $f" ;;
		esac
	done
}

# a passwordless-to-the-user healthcheck account, read by healthcheck.sh
create_healthcheck_users() {
	local healthCheckGrant=USAGE
	local healthCheckConnectPass
	healthCheckConnectPass="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
	local healthCheckConnectPassEscaped
	healthCheckConnectPassEscaped="$(docker_sql_escape_string_literal "$healthCheckConnectPass")"
	local host
	for host in 127.0.0.1 ::1 localhost; do
		printf "CREATE USER IF NOT EXISTS healthcheck@'%s' IDENTIFIED BY '%s';\nGRANT %s ON *.* TO healthcheck@'%s';\n" \
			"$host" "$healthCheckConnectPassEscaped" "$healthCheckGrant" "$host"
	done
	local maskPreserve
	maskPreserve="$(umask)"
	umask 0077
	printf '[mariadb-client]\nport=3306\nsocket=%s\nuser=healthcheck\npassword=%s\nprotocol=tcp\n' \
		"$SOCKET" "$healthCheckConnectPass" > "$DATADIR/.my-healthcheck.cnf"
	umask "$maskPreserve"
}

docker_setup_db() {
	if [ -z "$MARIADB_INITDB_SKIP_TZINFO" ]; then
		mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo \
			| docker_process_sql --dont-use-mysql-root-password --database=mysql
	fi
	if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
		MARIADB_ROOT_PASSWORD="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
		export MARIADB_ROOT_PASSWORD
		mysql_note "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
	fi

	local rootPasswordEscaped='' rootCreate='' rootAuth
	if [ -n "$MARIADB_ROOT_PASSWORD_HASH" ]; then
		rootAuth="IDENTIFIED BY PASSWORD '$(docker_sql_escape_string_literal "$MARIADB_ROOT_PASSWORD_HASH")'"
	else
		rootPasswordEscaped="$(docker_sql_escape_string_literal "${MARIADB_ROOT_PASSWORD:-}")"
		rootAuth="IDENTIFIED BY '$rootPasswordEscaped'"
	fi
	local rootHostEscaped
	rootHostEscaped="$(docker_sql_escape_string_literal "$MARIADB_ROOT_HOST")"
	if [ "$MARIADB_ROOT_HOST" != 'localhost' ]; then
		rootCreate="CREATE USER 'root'@'${rootHostEscaped}' ${rootAuth};
GRANT ALL ON *.* TO 'root'@'${rootHostEscaped}' WITH GRANT OPTION;
GRANT PROXY ON ''@'%' TO 'root'@'${rootHostEscaped}' WITH GRANT OPTION;"
	fi

	local createDatabase=''
	if [ -n "$MARIADB_DATABASE" ]; then
		mysql_note "Creating database ${MARIADB_DATABASE}"
		createDatabase="CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE//\`/\`\`}\`;"
	fi

	local createUser='' userGrants=''
	if [ -n "$MARIADB_USER" ] && { [ -n "$MARIADB_PASSWORD" ] || [ -n "$MARIADB_PASSWORD_HASH" ]; }; then
		mysql_note "Creating user ${MARIADB_USER}"
		local userAuth
		if [ -n "$MARIADB_PASSWORD_HASH" ]; then
			userAuth="IDENTIFIED BY PASSWORD '$(docker_sql_escape_string_literal "$MARIADB_PASSWORD_HASH")'"
		else
			userAuth="IDENTIFIED BY '$(docker_sql_escape_string_literal "$MARIADB_PASSWORD")'"
		fi
		local userEscaped
		userEscaped="$(docker_sql_escape_string_literal "$MARIADB_USER")"
		createUser="CREATE USER '${userEscaped}'@'%' ${userAuth};"
		if [ -n "$MARIADB_DATABASE" ]; then
			mysql_note "Giving user ${MARIADB_USER} access to schema ${MARIADB_DATABASE}"
			userGrants="GRANT ALL ON \`${MARIADB_DATABASE//\`/\`\`}\`.* TO '${userEscaped}'@'%';"
		fi
	fi

	mysql_note 'Securing system users (equivalent to running mysql_secure_installation)'
	docker_process_sql --dont-use-mysql-root-password --binary-mode <<-EOSQL
		-- no binary log for the initialisation, so replicas do not replay it
		SET @orig_sql_log_bin= @@SESSION.SQL_LOG_BIN;
		SET @@SESSION.SQL_LOG_BIN=0;
		-- backslash escapes are on for the literals below
		SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');

		DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
		EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname,'\'');

		ALTER USER 'root'@'localhost' ${rootAuth};
		${rootCreate}
		$(create_healthcheck_users)
		${createDatabase}
		${createUser}
		${userGrants}

		SET @@SESSION.SQL_LOG_BIN=@orig_sql_log_bin;
	EOSQL
}

_main() {
	# `docker run mariadb:11.8 --character-set-server=utf8mb4` means mariadbd with it
	if [ "${1:0:1}" = '-' ]; then
		set -- mariadbd "$@"
	fi

	if { [ "$1" = 'mariadbd' ] || [ "$1" = 'mysqld' ]; } && ! _mysql_want_help "$@"; then
		mysql_note "Entrypoint script for MariaDB Server $(mariadbd --version | awk '{print $3}') started."
		docker_setup_env "$@"
		docker_create_db_directories

		if [ "$(id -u)" = '0' ]; then
			mysql_note 'Switching to dedicated user mysql'
			# setpriv execs, so the server keeps PID 1
			exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
		fi

		if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
			docker_verify_minimum_env
			# check the init directory is readable before initialising, to fail early
			ls /docker-entrypoint-initdb.d/ > /dev/null
			docker_init_database_dir "$@"
			mysql_note 'Starting temporary server'
			docker_temp_server_start "$@"
			mysql_note 'Temporary server started.'
			docker_setup_db
			docker_process_init_files /docker-entrypoint-initdb.d/*
			mysql_note 'Stopping temporary server'
			docker_temp_server_stop
			mysql_note 'Temporary server stopped'
			printf '\n'
			mysql_note 'MariaDB init process done. Ready for start up.'
			printf '\n'
		fi
	fi
	exec "$@"
}

_main "$@"
