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

if [ "${1:-}" = "--ctl" ]; then
    pg_ctl_do "$2" "${AM_TEST_PG_DIR:?not under pg_run.sh}"
    exit $?
fi
if [ $# -lt 1 ]; then
    echo "usage: tests/pg_run.sh CMD [ARGS...]" >&2
    exit 2
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/am-pg.XXXXXX")
cleanup() {
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop \
            >/dev/null 2>&1
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir"
fi
chmod 755 "$dir"
cd "$dir" || exit 1
if ! as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 -N \
        --locale=C >"$dir/initdb.log" 2>&1; then
    echo "pg_run: initdb failed:" >&2
    cat "$dir/initdb.log" >&2
    exit 1
fi
# Every role is trusted but am_pw, which logs in with a password, so that
# tests can see wrong credentials refused (tests/pg_multi.c). First match
# wins in pg_hba.conf.
as_pg sed -i '1i local all am_pw scram-sha-256' "$dir/data/pg_hba.conf"
if ! pg_ctl_do start "$dir"; then
    echo "pg_run: the server did not start:" >&2
    cat "$dir/server.log" >&2
    exit 1
fi
if ! "$bindir/psql" -q -h "$dir" -U postgres -d postgres \
        -c "CREATE DATABASE amtest" >/dev/null; then
    echo "pg_run: cannot create the test database" >&2
    exit 1
fi
cd - >/dev/null || exit 1
host=$(printf '%s' "$dir" | sed 's|/|%2F|g')
export AM_TEST_STORE="postgresql://postgres@$host/amtest"
export AM_TEST_PG_DIR="$dir"
export AM_TEST_PG_RUN
AM_TEST_PG_RUN="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
"$@"
