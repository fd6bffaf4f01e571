#!/usr/bin/env bash
# tests/pg_run.sh CMD [ARGS...] -- run CMD against a throwaway PostgreSQL.
#
# Creates a cluster in a fresh temporary directory (initdb), starts its
# server listening on a Unix socket in that directory only (no TCP port),
# creates the database "amtest", exports
#   AM_TEST_STORE  postgresql://postgres@<socket dir>/amtest  (the store
#                  suites open their stores under it, tests/store_target.h)
#   AM_TEST_PG_DIR the directory, AM_TEST_PG_RUN this script (for tests
#                  that stop and start the server: "$AM_TEST_PG_RUN --ctl
#                  stop|start")
# runs CMD, then stops the server and removes the directory, also when CMD
# fails or the script is interrupted. PostgreSQL refuses to run as root:
# as root (CI) the server runs as the `postgres` user (runuser).
#
# One cluster for many runs (ctest: the pg_cluster fixture):
#   tests/pg_run.sh --start FILE   start a cluster, its directory into FILE
#   tests/pg_run.sh --stop FILE    stop that cluster and remove it
# With AM_TEST_PG_SHARED=FILE naming a started cluster, `pg_run.sh CMD`
# gives CMD a database of its own in that cluster instead (amtest_<pid>,
# dropped after; AM_TEST_STORE names it), so runs stay independent
# without an initdb each. Such runs get no AM_TEST_PG_RUN: a test that
# restarts the server needs a cluster of its own.
set -uo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "pg_run: no PostgreSQL server found (scripts/setup installs it)" >&2
    exit 1
fi

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_ctl_do() { # stop|start DIR
    case "$1" in
    stop) as_pg "$bindir/pg_ctl" -D "$2/data" -m fast -w stop >/dev/null ;;
    start) as_pg "$bindir/pg_ctl" -D "$2/data" -w -l "$2/server.log" \
        -o "-k $2 -c listen_addresses= -c fsync=off -c full_page_writes=off" \
        start >/dev/null ;;
    esac
}

psql_do() { # DIR SQL: run SQL in the cluster's database "postgres"
    "$bindir/psql" -q -h "$1" -U postgres -d postgres -c "$2" >/dev/null
}

make_cluster() { # DIR: initdb, then start the server; 1 (and why) if not
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$1"
    fi
    chmod 755 "$1"
    if ! (cd "$1" && as_pg "$bindir/initdb" -D "$1/data" -U postgres \
            -A trust -E UTF8 -N --locale=C >"$1/initdb.log" 2>&1); then
        echo "pg_run: initdb failed:" >&2
        cat "$1/initdb.log" >&2
        return 1
    fi
    # Every role is trusted but am_pw, which logs in with a password, so
    # that tests can see wrong credentials refused (tests/pg_multi.c).
    # First match wins in pg_hba.conf.
    as_pg sed -i '1i local all am_pw scram-sha-256' "$1/data/pg_hba.conf"
    if ! (cd "$1" && pg_ctl_do start "$1"); then
        echo "pg_run: the server did not start:" >&2
        cat "$1/server.log" >&2
        return 1
    fi
}

remove_cluster() { # DIR
    if [ -f "$1/data/postmaster.pid" ]; then
        (cd "$1" && as_pg "$bindir/pg_ctl" -D "$1/data" -m immediate -w \
            stop >/dev/null 2>&1)
    fi
    rm -rf "$1"
}

# The directory a --start FILE recorded, if it is one of ours.
shared_dir() { # FILE
    local d
    d=$(cat "$1" 2>/dev/null) || return 1
    case "$d" in
    "${TMPDIR:-/tmp}"/am-pg.*) [ -d "$d" ] && printf '%s' "$d" ;;
    *) return 1 ;;
    esac
}

case "${1:-}" in
--ctl)
    pg_ctl_do "$2" "${AM_TEST_PG_DIR:?not under pg_run.sh}"
    exit $?
    ;;
--start)
    file=${2:?usage: tests/pg_run.sh --start FILE}
    if old=$(shared_dir "$file"); then # left by a run that was killed
        remove_cluster "$old"
    fi
    rm -f "$file"
    dir=$(mktemp -d "${TMPDIR:-/tmp}/am-pg.XXXXXX")
    if ! make_cluster "$dir"; then
        remove_cluster "$dir"
        exit 1
    fi
    printf '%s\n' "$dir" >"$file"
    exit 0
    ;;
--stop)
    file=${2:?usage: tests/pg_run.sh --stop FILE}
    if dir=$(shared_dir "$file"); then
        remove_cluster "$dir"
    fi
    rm -f "$file"
    exit 0
    ;;
esac
if [ $# -lt 1 ]; then
    echo "usage: tests/pg_run.sh CMD [ARGS...]" >&2
    exit 2
fi

if [ -n "${AM_TEST_PG_SHARED:-}" ] && dir=$(shared_dir "$AM_TEST_PG_SHARED"); then
    db="amtest_$$"
    if ! psql_do "$dir" "CREATE DATABASE $db"; then
        echo "pg_run: cannot create database $db in $dir" >&2
        exit 1
    fi
    trap 'psql_do "$dir" "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
    trap 'exit 130' INT TERM
    host=$(printf '%s' "$dir" | sed 's|/|%2F|g')
    export AM_TEST_STORE="postgresql://postgres@$host/$db"
    export AM_TEST_PG_DIR="$dir"
    unset AM_TEST_PG_RUN
    "$@"
    exit $?
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/am-pg.XXXXXX")
trap 'remove_cluster "$dir"' EXIT
trap 'exit 130' INT TERM
if ! make_cluster "$dir"; then
    exit 1
fi
if ! psql_do "$dir" "CREATE DATABASE amtest"; then
    echo "pg_run: cannot create the test database" >&2
    exit 1
fi
host=$(printf '%s' "$dir" | sed 's|/|%2F|g')
export AM_TEST_STORE="postgresql://postgres@$host/amtest"
export AM_TEST_PG_DIR="$dir"
export AM_TEST_PG_RUN
AM_TEST_PG_RUN="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
"$@"
