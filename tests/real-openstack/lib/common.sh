# Shared by tests/real-openstack/{up,seed,check,down}: sourced, not run.
# shellcheck shell=bash

ros_here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ros_root="$(cd "$ros_here/../.." && pwd)"
# shellcheck disable=SC2034 # used by the scripts that source this file
ros_lib="$ros_here/lib"

say() { echo "real-openstack: $*" >&2; }
die() {
    say "$*"
    exit 1
}

# The state directory given on the command line, made absolute (it need not exist yet).
ros_dir() {
    [ $# -ge 1 ] && [ -n "$1" ] || die "usage: $(basename "$0") DIR"
    realpath -m -- "$1"
}

# shellcheck source=tests/real-openstack/lib/pg.sh
. "$ros_lib/pg.sh"

# ------------------------------------------------------------------ the venv
# Created on first use from requirements.txt and reused while the hash of that file and of the
# Python version stays the same (tests/support/python-venv, as for tests/conformance).
ros_venv() {
    local venv="${PROTECTOR_REAL_OS_VENV:-$ros_root/target/real-openstack-venv}"
    PYTHON="${PYTHON:-python3.11}" "$ros_root/tests/support/python-venv" \
        "$venv" "$ros_here/requirements.txt" real-openstack \
        || die "no venv at $venv (set PYTHON to a Python 3.11, or PROTECTOR_REAL_OS_VENV)"
    # shellcheck disable=SC2034 # the result, for the caller
    VENV="$venv"
}

# ------------------------------------------------------------------ the pids
# DIR/pids has one line per started process group: `PID STARTTIME NAME`. STARTTIME is field 22 of
# /proc/PID/stat, so `down` never signals a process that merely reuses a recorded pid.
ros_starttime() {
    local stat
    stat="$(cat "/proc/$1/stat" 2> /dev/null)" || return 1
    # the command name (field 2) may hold spaces; everything after its ')' is space-separated
    stat="${stat##*) }"
    # shellcheck disable=SC2086
    set -- $stat
    echo "${20}"
}

ros_record_pid() { # DIR PID NAME
    local start
    start="$(ros_starttime "$2")" || start=0
    echo "$2 $start $3" >> "$1/pids"
}

# The recorded pid still runs the process we started.
ros_pid_alive() { # PID STARTTIME
    local now
    now="$(ros_starttime "$1")" || return 1
    [ "$now" = "$2" ]
}

# Starts a command in its own session (so it and its children form one process group that
# `down` can signal), output to LOG, and records it in DIR/pids under NAME; its pid is left in
# ROS_LAST_PID. The log is appended to, so a restarted service (start-site) keeps what it said
# before. (Without job control a background job is no group leader, so setsid(1) does
# not fork and $! is the new session's leader.)
ros_start() { # DIR NAME LOG command...
    local dir="$1" name="$2" log="$3"
    shift 3
    setsid "$@" >> "$log" 2>&1 < /dev/null &
    ROS_LAST_PID=$!
    ros_record_pid "$dir" "$ROS_LAST_PID" "$name"
}

# Signals every recorded process group: TERM, then KILL after a grace period; then stops the
# database server (the services are gone by then). Idempotent.
ros_stop_all() { # DIR
    if [ -f "$1/pids" ]; then
        ros_stop_matching "$1" ''
        mv -f "$1/pids" "$1/pids.stopped"
    fi
    ros_pg_stop "$1"
}

# Stops the recorded process groups whose name starts with PREFIX (all with ''), as
# ros_stop_all does, and drops them from DIR/pids (stop-site: PREFIX site-a-).
ros_stop_matching() { # DIR PREFIX
    local dir="$1" prefix="$2" grace="${PROTECTOR_REAL_OS_STOP_GRACE:-5}"
    [ -f "$dir/pids" ] || return 0
    local pid start name live=()
    while read -r pid start name; do
        [ -n "$pid" ] && [[ "$name" == "$prefix"* ]] || continue
        if ros_pid_alive "$pid" "$start"; then
            kill -TERM -- "-$pid" 2> /dev/null || kill -TERM "$pid" 2> /dev/null || true
            live+=("$pid:$start:$name")
        fi
    done < "$dir/pids"
    local deadline=$((SECONDS + grace)) entry any
    while [ ${#live[@]} -gt 0 ] && [ $SECONDS -lt $deadline ]; do
        any=""
        for entry in "${live[@]}"; do
            IFS=: read -r pid start name <<< "$entry"
            ros_pid_alive "$pid" "$start" && any=1
        done
        [ -n "$any" ] || break
        sleep 0.2
    done
    for entry in "${live[@]}"; do
        IFS=: read -r pid start name <<< "$entry"
        if ros_pid_alive "$pid" "$start"; then
            say "$name (pid $pid) ignored TERM for ${grace}s: KILL"
            kill -KILL -- "-$pid" 2> /dev/null || kill -KILL "$pid" 2> /dev/null || true
        fi
    done
    # processes left in the session of a leader that was running a moment ago and is gone now
    # (the kernel does not hand out a pid again while a session of that id has members, so
    # these are ours). Only those: the pid of a leader that exited long ago (a site's setup) may
    # since be the session id of anyone's process (PostgreSQL's backends each start a session).
    local orphans
    for entry in "${live[@]}"; do
        IFS=: read -r pid start name <<< "$entry"
        [ -e "/proc/$pid" ] && continue
        orphans="$(ps -e -o pid=,sid= | awk -v s="$pid" '$2 == s { print $1 }')"
        # shellcheck disable=SC2086 # one pid per word
        [ -z "$orphans" ] || kill -KILL $orphans 2> /dev/null || true
    done
    if [ -n "$prefix" ]; then
        awk -v p="$prefix" 'index($3, p) != 1' "$dir/pids" > "$dir/pids.new"
        mv -f "$dir/pids.new" "$dir/pids"
    fi
}

# ------------------------------------------------------------------ the environment
ros_load_env() { # DIR
    [ -f "$1/env" ] || die "$1/env not found: run tests/real-openstack/up $1 first"
    set -a
    # shellcheck disable=SC1091
    . "$1/env"
    set +a
}

# ------------------------------------------------------------------ memory
# Prints the memory of what runs under DIR: per recorded process group its resident set (RSS,
# summed over the group's processes), and the PostgreSQL server's processes (RSS summed, which
# counts the shared buffers once per process that touched them, and PSS, which shares them out).
ros_memory() { # DIR
    local dir="$1" pid start name kb total=0
    [ -f "$dir/pids" ] || return 0
    while read -r pid start name; do
        ros_pid_alive "$pid" "$start" || continue
        [[ "$name" != *-setup ]] || continue
        kb="$(ps -o rss= -s "$pid" | awk '{ s += $1 } END { print s + 0 }')"
        total=$((total + kb))
        printf '  %-18s %6d MB\n' "$name" $((kb / 1024))
    done < "$dir/pids"
    local pg_pid rss pss
    pg_pid="$(head -n 1 "$(readlink -f "$dir/pg")/data/postmaster.pid" 2> /dev/null)" || pg_pid=""
    if [ -n "$pg_pid" ] && [ -e "/proc/$pg_pid" ]; then
        # the postmaster and its children (each of which starts a session of its own)
        local pg_pids
        pg_pids="$pg_pid $(ps -o pid= --ppid "$pg_pid" | tr '\n' ' ')"
        rss="$(for p in $pg_pids; do
            awk '/^Rss:/ { print $2 }' "/proc/$p/smaps_rollup" 2> /dev/null
        done | awk '{ s += $1 } END { print s + 0 }')"
        pss="$(for p in $pg_pids; do
            awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2> /dev/null
        done | awk '{ s += $1 } END { print s + 0 }')"
        printf '  %-18s %6d MB RSS (%d processes), %d MB PSS\n' postgresql $((rss / 1024)) \
            "$(wc -w <<< "$pg_pids")" $((pss / 1024))
        total=$((total + pss))
    fi
    printf '  %-18s %6d MB (PostgreSQL by PSS)\n' total $((total / 1024))
}
