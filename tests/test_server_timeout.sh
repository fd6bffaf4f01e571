#!/usr/bin/env bash
# test_server_timeout.sh -- `agentmem serve --timeout`: a client that
# opens a connection and sends nothing, or half a request (headers cut
# off, or a body shorter than its Content-Length), is disconnected once
# the connection has been idle that long, while other clients are served
# meanwhile and afterwards; --timeout outside 1s..1h is refused naming
# the option.
set -u
cli=${AM_CLI:?AM_CLI must name the agentmem binary}
src=${AM_SOURCE_DIR:?}
. "$src/tests/server_lib.sh"

now() { date +%s.%N; }
# elapsed T0: seconds since T0, two decimals.
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf("%.2f", b - a) }'; }
# between X LO HI: LO <= X < HI.
between() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x < hi) }'; }

# ---- Bad values ----
for bad in 500 0s 2h; do
    "$cli" serve --db "$tmp/t.db" --timeout "$bad" >/dev/null 2>"$tmp/err"
    rc=$?
    expect_eq "timeout_${bad}_exit" "$rc" 2
    if grep -q -- "--timeout" "$tmp/err"; then pass=$((pass + 1)); else
        echo "FAIL timeout_${bad}_message: $(cat "$tmp/err")"; fails=$((fails + 1)); fi
done

# ---- Idle and half-sent requests are dropped ----
# One worker thread: the idle connections must not hold it.
start_server "$tmp/t.db" --timeout 2s --threads 1
t0=$(now)
exec {idle}<>"/dev/tcp/127.0.0.1/$port"          # sends nothing
exec {head}<>"/dev/tcp/127.0.0.1/$port"          # headers cut off
printf 'POST /v1/items/put HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty' >&"$head"
exec {body}<>"/dev/tcp/127.0.0.1/$port"          # body cut off
printf 'POST /v1/items/put HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"ns":["t"],"key":"half","value":' >&"$body"

# Other clients are served while those wait, at once.
t1=$(now)
req healthz_meanwhile GET /healthz '' 200
req put_meanwhile POST /v1/items/put '{"ns":["t"],"key":"k","value":"v"}' 200
req get_meanwhile POST /v1/items/get '{"ns":["t"],"key":"k"}' 200
took=$(elapsed "$t1")
if between "$took" 0 1.5; then pass=$((pass + 1)); else
    echo "FAIL served_meanwhile: 3 requests took ${took}s"; fails=$((fails + 1)); fi

# Each waiting connection is closed by the server (EOF) after about 2 s
# of silence: not before 1.5 s, and well before the 8 s a hung read
# would take.
for name in idle head body; do
    fd=${!name}
    timeout 8 cat <&"$fd" >"$tmp/$name.out"
    rc=$?
    took=$(elapsed "$t0")
    exec {fd}>&-
    if [ "$rc" -eq 0 ] && between "$took" 1.5 6; then pass=$((pass + 1)); else
        echo "FAIL ${name}_dropped: read ended with $rc after ${took}s"
        fails=$((fails + 1))
    fi
done
# The half-sent put was never stored.
req half_put_not_stored POST /v1/items/get '{"ns":["t"],"key":"half"}' 404
# And the server still serves after dropping them.
req healthz_after GET /healthz '' 200
req get_after POST /v1/items/get '{"ns":["t"],"key":"k"}' 200
stop_server

# ---- A connection in use is not cut ----
# A body sent in pieces with pauses shorter than the timeout is read to
# the end: the timeout counts silence, not the whole request.
start_server "$tmp/t.db" --timeout 2s --threads 1
exec {slow}<>"/dev/tcp/127.0.0.1/$port"
payload='{"ns":["t"],"key":"slow","value":"sent in three pieces"}'
printf 'POST /v1/items/put HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n' "${#payload}" >&"$slow"
printf '%s' "${payload:0:20}" >&"$slow"; sleep 1.2
printf '%s' "${payload:20:20}" >&"$slow"; sleep 1.2
printf '%s' "${payload:40}" >&"$slow"
timeout 8 cat <&"$slow" >"$tmp/slow.out"
exec {slow}>&-
if head -n1 "$tmp/slow.out" | grep -q "^HTTP/1.1 200"; then pass=$((pass + 1)); else
    echo "FAIL slow_body_answered: $(head -c 200 "$tmp/slow.out")"; fails=$((fails + 1)); fi
req slow_stored POST /v1/items/get '{"ns":["t"],"key":"slow"}' 200
jcheck slow_value '.value' '"sent in three pieces"'
finish
