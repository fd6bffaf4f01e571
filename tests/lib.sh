# lib.sh -- what the CLI's shell tests share: the binary under test, a
# scratch directory, pass/fail counters and the checks that feed them.
#
# A test sources it relative to its own directory, so it works from ctest
# and by hand (AM_CLI=build/agentmem bash tests/test_cli.sh):
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It sets $cli (from $AM_CLI), $tmp (a fresh directory, removed at exit),
# $out and $err (where check puts a command's stdout and stderr), and the
# counters $fails and $pass. Every check below prints "FAIL NAME: ..." with
# what it saw when it fails; a test ends with `finish`, whose exit status is
# the verdict.
set -u
cli=${AM_CLI:?AM_CLI must name the agentmem binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass=0
out="$tmp/out"
err="$tmp/err"

# check NAME EXPECTED_STATUS CMD...: run CMD (stdout to $out, stderr to
# $err) and compare its exit status.
check() {
    local name=$1 want=$2; shift 2
    "$@" >"$out" 2>"$err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL $name: exit $got, expected $want"; cat "$err"
        fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}

# fails_with NAME CMD...: CMD exits with any non-zero status.
fails_with() {
    local name=$1; shift
    if "$@" >"$out" 2>"$err"; then
        echo "FAIL $name: succeeded"; fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}

# has NAME FILE TEXT: FILE contains TEXT (a fixed string).
has() {
    if grep -qF -- "$3" "$2"; then pass=$((pass + 1)); else
        echo "FAIL $1: '$3' not in $2:"; cat "$2"
        fails=$((fails + 1))
    fi
}

# hasnt NAME FILE TEXT: FILE does not contain TEXT (a fixed string).
hasnt() {
    if grep -qF -- "$3" "$2"; then
        echo "FAIL $1: '$3' found in $2:"; cat "$2"
        fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}

# matches NAME FILE PATTERN: a line of FILE matches PATTERN (grep's basic
# regular expression).
matches() {
    if grep -q -- "$3" "$2"; then pass=$((pass + 1)); else
        echo "FAIL $1: '$3' matches nothing in $2:"; cat "$2"
        fails=$((fails + 1))
    fi
}

# finish: print the counts; succeed only if nothing failed.
finish() {
    echo "$pass passed, $fails failed"
    [ "$fails" -eq 0 ]
}
