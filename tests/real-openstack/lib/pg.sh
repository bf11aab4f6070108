# The database server of tests/real-openstack: sourced by lib/common.sh, not run.
# shellcheck shell=bash
#
# One PostgreSQL server (Debian's package) holds every database of both sites: cluster
# DIR/pg/data, listening on 127.0.0.1:PORT and on a unix socket in DIR/pg, password
# authentication only (user `protector`, password ROS_PG_PASSWORD: test values). `up` makes and
# starts it before the sites; `down` stops it after them; stop-site and start-site leave it
# running (a site outage loses its services, not its databases).
#
# PostgreSQL refuses to run as root. As root, the server runs as PROTECTOR_REAL_OS_PG_USER
# (default `nobody`), which owns DIR/pg; when that user cannot reach DIR (under a private home
# such as /root), DIR/pg is a symlink to a directory of its own, /tmp/protector-real-os-pg.*.
# When no server is installed, root installs Debian's `postgresql` with apt-get.

ROS_PG_USER_NAME=protector
ROS_PG_PASSWORD=protector-pg-secret
# The services' databases, one per service and site (Nova: its API database and two cells).
ROS_DATABASES="keystone placement neutron cinder nova_api nova_cell0 nova_cell1"

ros_db_name() { # SITE SERVICE
    echo "${1//-/_}_$2"
}

# The directory of pg_ctl, initdb and psql: PATH first, then the newest /usr/lib/postgresql/*/bin.
ros_pg_bindir() {
    local bin
    if bin="$(command -v pg_ctl)" && bin="$(readlink -f "$bin")" \
        && [ -x "$(dirname "$bin")/initdb" ]; then
        dirname "$bin"
        return 0
    fi
    bin="$(find /usr/lib/postgresql -maxdepth 3 -path '*/bin/pg_ctl' 2> /dev/null | sort -V | tail -n 1)"
    [ -n "$bin" ] || return 1
    dirname "$bin"
}

# Sets ROS_PG_BIN, installing Debian's postgresql when no server is found (root only).
ros_pg_install() {
    if ROS_PG_BIN="$(ros_pg_bindir)"; then
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed (no pg_ctl on PATH or in" \
        "/usr/lib/postgresql/*/bin): install Debian's postgresql package"
    say "PostgreSQL is not installed: apt-get install -y postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postgresql > /dev/null 2>&1 \
        || { apt-get update -q > /dev/null && apt-get install -y -q postgresql > /dev/null; } \
        || die "apt-get install postgresql failed"
    ROS_PG_BIN="$(ros_pg_bindir)" || die "postgresql is installed, but no pg_ctl was found"
}

ros_pg_user() {
    echo "${PROTECTOR_REAL_OS_PG_USER:-nobody}"
}

# Runs a command as the server's user: as is when not root, else as PROTECTOR_REAL_OS_PG_USER.
ros_pg_as() { # command...
    if [ "$(id -u)" != 0 ]; then
        "$@"
        return
    fi
    local user
    user="$(ros_pg_user)"
    setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups -- "$@"
}

# The URL prefix of the server of DIR for oslo.db (append /DBNAME).
ros_pg_url() { # DIR
    echo "postgresql+psycopg2://$ROS_PG_USER_NAME:$ROS_PG_PASSWORD@127.0.0.1:$(cat "$1/pg/port")"
}

# Makes the cluster DIR/pg/data, starts the server on 127.0.0.1:PORT (log DIR/pg/postgres.log)
# and creates every site's databases.
ros_pg_up() { # DIR PORT
    local dir="$1" port="$2" pg="$1/pg" user="" group=""
    ros_pg_install
    mkdir -p "$pg"
    if [ "$(id -u)" = 0 ]; then
        user="$(ros_pg_user)"
        group="$(id -g "$user" 2> /dev/null)" \
            || die "no user $user to run PostgreSQL as (PROTECTOR_REAL_OS_PG_USER)"
        chown "$user:$group" "$pg"
        chmod 700 "$pg"
        if ! (cd / && ros_pg_as test -w "$pg" -a -x "$pg"); then
            rmdir "$pg"
            local own
            own="$(mktemp -d /tmp/protector-real-os-pg.XXXXXX)"
            chown "$user:$group" "$own"
            ln -s "$own" "$pg"
            say "$user cannot reach $dir: the database cluster is in $own ($pg links to it)"
            pg="$own"
        fi
    fi
    echo "$port" > "$pg/port"
    local pwfile="$pg/.pwfile"
    (umask 077 && echo "$ROS_PG_PASSWORD" > "$pwfile")
    [ -z "$user" ] || chown "$user:$group" "$pwfile"
    if ! (cd "$pg" && ros_pg_as "$ROS_PG_BIN/initdb" -D "$pg/data" -U "$ROS_PG_USER_NAME" \
        --pwfile="$pwfile" --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync) \
        > "$pg/initdb.log" 2>&1; then
        rm -f "$pwfile"
        say "initdb failed; the end of $pg/initdb.log:"
        tail -n 20 "$pg/initdb.log" >&2
        return 1
    fi
    rm -f "$pwfile"
    # The unix socket in DIR/pg when its path fits (108 bytes with `/.s.PGSQL.PORT`), else TCP
    # only (the services use TCP anyway).
    local socket="$pg"
    [ ${#pg} -le 90 ] || socket=""
    # Throwaway test databases: no fsync. Connections: every service process keeps a pool per
    # database (Nova's all-in-one process three), growing under load.
    cat >> "$pg/data/postgresql.conf" << EOF

# tests/real-openstack (lib/pg.sh)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$socket'
max_connections = 400
shared_buffers = 64MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %d '
EOF
    ros_pg_start "$dir" || return 1
    local sql=() site service
    for site in site-a site-b; do
        for service in $ROS_DATABASES; do
            sql+=(-c "CREATE DATABASE $(ros_db_name "$site" "$service")")
        done
    done
    if ! PGPASSWORD="$ROS_PG_PASSWORD" "$ROS_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$port" -U "$ROS_PG_USER_NAME" -d postgres "${sql[@]}" \
        > "$pg/createdb.log" 2>&1; then
        say "creating the databases failed:"
        cat "$pg/createdb.log" >&2
        return 1
    fi
}

ros_pg_start() { # DIR
    local pg
    pg="$(readlink -f "$1/pg")"
    [ -n "${ROS_PG_BIN:-}" ] || ros_pg_install
    if ! (cd "$pg" && ros_pg_as "$ROS_PG_BIN/pg_ctl" -D "$pg/data" -l "$pg/postgres.log" \
        -w -t 60 start) > "$pg/pg_ctl.log" 2>&1; then
        say "PostgreSQL did not start; the end of $pg/postgres.log:"
        tail -n 20 "$pg/postgres.log" >&2
        return 1
    fi
}

# Whether the server of DIR runs.
ros_pg_running() { # DIR
    local pg
    pg="$(readlink -f "$1/pg")"
    [ -f "$pg/data/postmaster.pid" ] || return 1
    [ -n "${ROS_PG_BIN:-}" ] || ROS_PG_BIN="$(ros_pg_bindir)" || return 1
    (cd / && ros_pg_as "$ROS_PG_BIN/pg_ctl" -D "$pg/data" status) > /dev/null 2>&1
}

# Stops the server of DIR (fast: open sessions end); its cluster stays. Idempotent.
ros_pg_stop() { # DIR
    ros_pg_running "$1" || return 0
    (cd / && ros_pg_as "$ROS_PG_BIN/pg_ctl" -D "$(readlink -f "$1/pg")/data" -m fast -w -t 60 \
        stop) > /dev/null \
        || say "PostgreSQL of $1 did not stop"
}

# A directory /tmp/protector-real-os-pg.* that DIR/pg links to (see above), removed with DIR's
# previous run.
ros_pg_forget() { # DIR
    local target
    [ -L "$1/pg" ] || return 0
    target="$(readlink "$1/pg")"
    case "$target" in
        /tmp/protector-real-os-pg.*) rm -rf -- "$target" ;;
    esac
}
