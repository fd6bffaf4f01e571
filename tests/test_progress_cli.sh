#!/usr/bin/env bash
# test_progress_cli.sh -- long commands show progress on a terminal only.
#
# script(1) runs the command on a pseudo-terminal, so stderr is a terminal
# as it is for a person at a shell; the same command with stderr in a file
# (a script, a log) must print no progress, and --quiet turns it off.
set -u
cli=${AM_CLI:?AM_CLI must name the agentmem binary}
command -v script >/dev/null || { echo "script(1) (bsdutils) is missing: run scripts/setup"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
# on_tty OUT CMD: run CMD (one shell string) on a terminal, its whole
# screen (stdout and stderr, carriage returns as newlines) into OUT.
on_tty() { script -qec "$2" /dev/null </dev/null | tr '\r' '\n' >"$1"; }

cd "$tmp"
python3 - <<'PY'
import json
with open("items.jsonl", "w") as f:
    for i in range(3000):
        f.write(json.dumps({"namespace": ["u", "notes"], "key": "k%d" % i,
                            "value": {"text": "note %d about the garden" % i}}) + "\n")
with open("texts.jsonl", "w") as f:
    for i in range(40000):
        f.write(json.dumps("line %d of a text to count" % i) + "\n")
PY

# store import: the count of items, ending at all of them.
on_tty screen "'$cli' store import items.jsonl --db a.db --embedder hash"
grep -q "^importing: 3000 of 3000 items (100%)" screen && ok || { bad "import progress"; cat screen; }
grep -q "^imported 3000" screen && ok || bad "import result"
# Not a terminal: nothing but the result.
"$cli" store import items.jsonl --db b.db --embedder hash >out 2>err
grep -q "importing" err && bad "import progress on a non-terminal: $(cat err)" || ok
[ "$(cat out)" = "imported 3000" ] && ok || bad "import result off a terminal: $(cat out)"
on_tty screen "'$cli' store import items.jsonl --db c.db --embedder hash --quiet"
grep -q "importing" screen && bad "import progress with --quiet" || ok
# A refused import shows no 100% and imports nothing.
printf '{"namespace":["u"],"key":"x","value":1}\n{"key":1}\n' > broken.jsonl
on_tty screen "'$cli' store import broken.jsonl --db d.db --embedder hash"
grep -q "100%" screen && bad "refused import drew progress" || ok
grep -q "line 2" screen && ok || { bad "refused import message"; cat screen; }

# store export to a file: the items written.
on_tty screen "'$cli' store export --db a.db --embedder hash > out.jsonl"
grep -q "^exported: 3000 of 3000 items" screen && ok || { bad "export progress"; cat screen; }
[ "$(wc -l < out.jsonl)" -eq 3000 ] && ok || bad "export lines"
grep -q "exported" out.jsonl && bad "progress in the exported data" || ok
# Export to the terminal itself: the lines, no progress line among them.
on_tty screen "'$cli' store export u --db a.db --embedder hash"
grep -q "^exported" screen && bad "export progress torn by its own output" || ok

# store reembed.
on_tty screen "'$cli' store reembed --db a.db --embedder hash"
grep -q "^re-embedding: 3000 of 3000 items (100%)" screen && ok || { bad "reembed progress"; cat screen; }
on_tty screen "'$cli' store reembed --db a.db --embedder hash --quiet"
grep -q "re-embedding" screen && bad "reembed progress with --quiet" || ok

# tokens count --jsonl of a large input: bytes done, output elsewhere.
size=$(wc -c < texts.jsonl)
on_tty screen "'$cli' tokens count --jsonl texts.jsonl > counts.txt"
grep -q "^counting: $size of $size bytes (100%)" screen && ok || { bad "tokens progress"; cat screen; }
[ "$(wc -l < counts.txt)" -eq 40000 ] && ok || bad "tokens count lines"
grep -q "counting" counts.txt && bad "progress in the counts" || ok
on_tty screen "'$cli' tokens count --jsonl texts.jsonl --quiet > counts.txt"
grep -q "counting" screen && bad "tokens progress with --quiet" || ok
"$cli" tokens count --jsonl texts.jsonl >counts.txt 2>err
[ -s err ] && bad "tokens progress on a non-terminal: $(head -c 200 err)" || ok

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
