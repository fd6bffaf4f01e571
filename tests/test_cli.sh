#!/usr/bin/env bash
# test_cli.sh -- the CLI's dispatch, help and error conventions.
set -u
cli=${AM_CLI:?AM_CLI must name the agentmem binary}
fails=0
pass=0
check() { # check NAME EXPECTED_STATUS CMD...
    local name=$1 want=$2; shift 2
    "$@" >/tmp/amcli.out.$$ 2>/tmp/amcli.err.$$
    local got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL $name: exit $got, expected $want"; cat /tmp/amcli.err.$$
        fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}
check help 0 "$cli" --help
grep -q "usage: agentmem" /tmp/amcli.out.$$ || { echo "FAIL help text"; fails=$((fails+1)); }
check version 0 "$cli" --version
grep -q "^agentmem [0-9]" /tmp/amcli.out.$$ || { echo "FAIL version text"; fails=$((fails+1)); }
check no_args 2 "$cli"
check unknown 2 "$cli" frobnicate
grep -q "unknown command 'frobnicate'" /tmp/amcli.err.$$ || { echo "FAIL unknown text"; fails=$((fails+1)); }
check demo 0 "$cli" demo
rm -f /tmp/amcli.out.$$ /tmp/amcli.err.$$
echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
