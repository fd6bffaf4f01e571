# server_lib.sh -- helpers the server's shell tests source: start
# `agentmem serve` on a free loopback port, send requests with curl, check
# replies with jq, count passes and failures.
#
# Needs $cli (the agentmem binary). Sets $tmp (removed at exit), and after
# start_server: $url, $port, $server_pid, $log.

tmp=$(mktemp -d)
server_pid=""
trap '[ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fails=0
pass=0
requests=0
nlog=0

# start_server DB [ARGS...]: start the server on port 0 and wait for its
# "listening" line (the port the kernel chose is in it). It waits as long
# as the server is alive, up to 120 s: a sanitizer build opening an
# encrypted database (key derivation) on a loaded 2-core machine was seen
# to need more than the 5 s this loop used to allow.
start_server() {
    local db=$1; shift
    nlog=$((nlog + 1))
    log="$tmp/server.$nlog.log"
    requests=0
    "$cli" serve --db "$db" --listen 127.0.0.1:0 "$@" 2>"$log" &
    server_pid=$!
    for _ in $(seq 2400); do
        if grep -q '"event":"listening"' "$log" 2>/dev/null; then break; fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    url=$(grep '"event":"listening"' "$log" | jq -r .url)
    port=${url##*:}
    if [ -z "$url" ] || [ "$url" = null ]; then
        echo "FAIL: server did not start:"; cat "$log"; exit 1
    fi
}

stop_server() {
    kill -TERM "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=""
}

# req NAME METHOD PATH BODY STATUS [HEADER...]: the reply body lands in
# $tmp/body, its headers in $tmp/headers.
req() {
    local name=$1 method=$2 path=$3 body=$4 want=$5; shift 5
    local args=(-s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}'
                -X "$method")
    for h in "$@"; do args+=(-H "$h"); done
    if [ -n "$body" ]; then args+=(--data-binary "$body"); fi
    local got
    got=$(curl "${args[@]}" "$url$path")
    requests=$((requests + 1))
    if [ "$got" != "$want" ]; then
        echo "FAIL $name: $method $path -> $got, expected $want:"
        cat "$tmp/body"; echo
        fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}

# req_file NAME METHOD PATH FILE STATUS: as req, the body from FILE.
req_file() {
    local name=$1 method=$2 path=$3 file=$4 want=$5
    local got
    got=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$method" \
        --data-binary @"$file" "$url$path")
    requests=$((requests + 1))
    if [ "$got" != "$want" ]; then
        echo "FAIL $name: $method $path -> $got, expected $want"
        fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}

# jcheck NAME FILTER EXPECTED: jq FILTER on the last reply, compact,
# equals EXPECTED (compact JSON).
jcheck() {
    local got
    got=$(jq -c "$2" "$tmp/body" 2>&1)
    if [ "$got" != "$3" ]; then
        echo "FAIL $1: $2 is $got, expected $3 (reply: $(head -c 600 "$tmp/body"))"
        fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}

# jcontains NAME FILTER TEXT: the string at FILTER contains TEXT.
jcontains() {
    local got
    got=$(jq -r "$2" "$tmp/body" 2>&1)
    case "$got" in
    *"$3"*) pass=$((pass + 1)) ;;
    *) echo "FAIL $1: $2 is '$got', expected it to contain '$3'"
       fails=$((fails + 1)) ;;
    esac
}

# hcheck NAME HEADER EXPECTED: the last req's reply had HEADER: EXPECTED
# (EXPECTED "": no such header).
hcheck() {
    local got
    got=$(tr -d '\r' <"$tmp/headers" |
          awk -v h="$2" 'index(tolower($0), tolower(h) ": ") == 1 {
              print substr($0, length(h) + 3) }')
    expect_eq "$1" "$got" "$3"
}

expect_eq() {
    if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
        echo "FAIL $1: got '$2', expected '$3'"; fails=$((fails + 1)); fi
}

finish() {
    [ -n "$server_pid" ] && stop_server
    echo "$pass passed, $fails failed"
    [ "$fails" -eq 0 ]
    exit $?
}
