#!/usr/bin/env bash
# test_cli.sh -- the CLI's dispatch, help and error conventions.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check help 0 "$cli" --help
grep -q "usage: agentmem" "$out" || { echo "FAIL help text"; fails=$((fails+1)); }
check version 0 "$cli" --version
grep -q "^agentmem [0-9]" "$out" || { echo "FAIL version text"; fails=$((fails+1)); }
check no_args 2 "$cli"
check unknown 2 "$cli" frobnicate
grep -q "unknown command 'frobnicate'" "$err" || { echo "FAIL unknown text"; fails=$((fails+1)); }
check demo 0 "$cli" demo
finish
