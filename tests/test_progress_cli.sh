#!/usr/bin/env bash
# test_progress_cli.sh -- long commands show progress on a terminal only.
#
# Covered: store import/export/reembed, tokens count (--jsonl and one
# large input), recall index-files, tiers maintain.
#
# script(1) runs the command on a pseudo-terminal, so stderr is a terminal
# as it is for a person at a shell; the same command with stderr in a file
# (a script, a log) must print no progress, and --quiet turns it off.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v script >/dev/null || { echo "script(1) (bsdutils) is missing: run scripts/setup"; exit 1; }
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

# recall index-files of many files: the files done.
mkdir convs
for i in $(seq 1 60); do
    printf '[{"role":"user","content":"day %d: we talked about the garden"},{"role":"assistant","content":"noted"}]\n' "$i" >"convs/day$i.json"
done
on_tty screen "'$cli' recall index-files u convs/*.json --db r.db --embedder hash"
grep -q "^indexing: 60 of 60 files (100%)" screen && ok || { bad "index-files progress"; cat screen; }
grep -q "^indexed 60 files, 60 chunks" screen && ok || bad "index-files result"
on_tty screen "'$cli' recall index-files u convs/*.json --db r.db --embedder hash --quiet"
grep -q "indexing" screen && bad "index-files progress with --quiet" || ok
"$cli" recall index-files u convs/*.json --db r.db --embedder hash >out 2>err
[ -s err ] && bad "index-files progress on a non-terminal: $(head -c 200 err)" || ok

# tokens count of one large input: counted in pieces cut after a newline
# before a letter or digit, whose counts must add up to the count of the
# whole text in one call (off a terminal), on text written to break the
# cut: newlines before '/', spaces, digits, CR LF, letters of several
# scripts, emoji, special-token text.
python3 - <<'PY'
import random
r = random.Random(7)
bits = ["\u3000\n", "\u00a0\n", "word", "Word", "123", "4567", " ", "  ", "\n", "\n\n", "\r\n", ".\n/",
        "/", "'s", "'T", "é", "日本語", "Привет", "🙂", "👩‍💻", "<|endoftext|>",
        "\t", ",", "!!", "\n ", " \n", "a\nb", "\n9", "x\n/y"]
with open("big.txt", "w") as f:
    n = 0
    while n < 3 * 1024 * 1024:
        s = "".join(r.choice(bits) for _ in range(40))
        f.write(s)
        n += len(s.encode())
PY
for enc in cl100k_base o200k_base p50k_base r50k_base; do
    on_tty screen "'$cli' tokens count --encoding $enc big.txt"
    grep -q "^counting: [0-9]* of [0-9]* bytes (100%)" screen && ok || { bad "count progress ($enc)"; head -c 500 screen; }
    whole=$("$cli" tokens count --encoding $enc big.txt 2>err)
    [ -s err ] && bad "count progress off a terminal: $(head -c 200 err)" || ok
    pieces=$(grep -E '^[0-9]+$' screen | tail -1)
    [ -n "$whole" ] && [ "$pieces" = "$whole" ] && ok || bad "pieces $pieces != whole $whole ($enc)"
done
on_tty screen "'$cli' tokens count --encoding cl100k_base big.txt --quiet"
grep -q "counting" screen && bad "count progress with --quiet" || ok
# A small input draws nothing.
on_tty screen "echo hello | '$cli' tokens count"
grep -q "counting" screen && bad "count progress for a small input" || ok
# An error in a piece names its byte in the whole input.
{ head -c 2000000 big.txt | tr -d '<'; printf '\nzz <|endoftext|>'; } > special.txt
size=$(wc -c < special.txt)
on_tty screen "'$cli' tokens count --disallow-special special.txt"
grep -q "at byte $((size - 13))" screen && ok || { bad "error offset in pieces"; grep -a byte screen; }

# tiers maintain: each step of the library's walk on its own line.
T0=1700000000000
for i in $(seq 1 12); do
    "$cli" tiers put "n$i" "note $i" --importance 0.2 --db t.db --now $T0 >/dev/null || bad "tiers put $i"
done
on_tty screen "'$cli' tiers maintain --db t.db --now $((T0 + 40 * 86400000))"
grep -q "^loading: 12 of 12 items (100%)" screen && ok || { bad "maintain loading"; cat screen; }
grep -q "^demoting: 12 of 12 items (100%)" screen && ok || { bad "maintain demoting"; cat screen; }
grep -q "^policies: 36 of 36 items (100%)" screen && ok || { bad "maintain policies"; cat screen; }
grep -q "^writing: [0-9]* of [0-9]* items (100%)" screen && ok || { bad "maintain writing"; cat screen; }
grep -q "^optimize: demoted 12 items" screen && ok || { bad "maintain result on its own line"; cat screen; }
on_tty screen "'$cli' tiers maintain --db t.db --now $((T0 + 40 * 86400000)) --quiet"
grep -q "loading\|policies" screen && bad "maintain progress with --quiet" || ok
"$cli" tiers maintain --db t.db --now $((T0 + 40 * 86400000)) >out 2>err
[ -s err ] && bad "maintain progress on a non-terminal: $(head -c 200 err)" || ok
# A short command that touches one item shows none.
on_tty screen "'$cli' tiers get n1 --peek --db t.db"
grep -q "loading" screen && bad "progress on tiers get" || ok

finish
