#!/usr/bin/env bash
# test_readme.sh -- README.md and the task guides (docs/guides/*.md) run as
# written: every C example of the README compiles and
# links against the library as built, and every shell block runs, in order,
# from a copy of the repository's tracked files (what a fresh clone has) with
# this build as its build/ directory, so the tour a user copies from keeps
# working. Two kinds of shell block are not run, and say so themselves: the
# one holding `make run` / `make test` (this test is part of `make test`), and
# blocks whose first line is "# needs network" (a model server and its key)
# or "# a long-running server" (it would not return; test_server*.sh cover it).
set -u
src=${AM_SOURCE_DIR:?}
bin=${AM_BINARY_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk -v dir="$tmp" '
    /^```c$/ { n++; out = sprintf("%s/example%02d.c", dir, n); on = 1; next }
    /^```/   { on = 0; next }
    on       { print > out }
' "$src/README.md"
pass=0 fail=0
deps=$(pkg-config --libs sqlite3 jansson libcurl libzstd libutf8proc libpq libcrypto)
for f in "$tmp"/example*.c; do
    [ -e "$f" ] || continue
    if cc -std=c11 -Wall -Werror -Wno-unused-variable -I"$src/include" "$f" \
        "$bin/libagentmem.a" $deps -lpthread -lm -o "${f%.c}" 2>"$f.log"; then
        pass=$((pass + 1))
    else
        echo "FAIL: README example $(basename "$f") does not build:"
        sed -n 1,15p "$f.log"
        fail=$((fail + 1))
    fi
done

# ---- Shell blocks ----
clone="$tmp/clone"
mkdir -p "$clone" "$tmp/home"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    # Tracked files only, with their times (so make sees the build as fresh).
    (cd "$src" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$clone"
else
    (cd "$src" && tar --exclude='./build*' --exclude=./data -cf - .) | tar -xf - -C "$clone"
fi
ln -s "$bin" "$clone/build"
# The clone's files are not newer than the build (make install would
# otherwise reconfigure build/ from the clone).
touch -d "2000-01-01" "$clone/CMakeLists.txt"
awk '
    /^```sh$/ { n++; on = 1; first = 1; skip = 0; start = NR; body = ""; next }
    /^```/ && on {
        on = 0
        if (body ~ /(^|\n)make (run|test)/ || skip) { skip = 0; next }
        printf "echo \"== README shell block %d (line %d)\"\n%s", n, start, body
        next
    }
    on && first { first = 0; if ($0 ~ /^# (needs network|a long-running server)/) skip = 1 }
    on { body = body $0 "\n" }
' "$src/README.md" > "$tmp/blocks.sh"
nblocks=$(grep -c '^echo "== README shell block' "$tmp/blocks.sh")
if (cd "$clone" && HOME="$tmp/home" AGENTMEM_DATA_DIR= \
        bash -e "$tmp/blocks.sh") >"$tmp/blocks.log" 2>&1; then
    pass=$((pass + nblocks))
else
    echo "FAIL: a README shell block fails as written:"
    tail -25 "$tmp/blocks.log"
    fail=$((fail + 1))
fi
[ "$nblocks" -ge 5 ] || { echo "FAIL: only $nblocks shell blocks found"; fail=$((fail + 1)); }

# ---- Task guides: each guide's shell blocks, in order, the same way ----
for guide in "$src"/docs/guides/*.md; do
    [ -e "$guide" ] || continue
    awk '/^```sh$/ { on = 1; next } /^```/ { on = 0; next } on' "$guide" \
        >"$tmp/guide.sh"
    if (cd "$clone" && HOME="$tmp/home" AGENTMEM_DATA_DIR= \
            bash -e "$tmp/guide.sh") >"$tmp/guide.log" 2>&1; then
        pass=$((pass + 1))
    else
        echo "FAIL: a shell block of docs/guides/$(basename "$guide") fails:"
        tail -25 "$tmp/guide.log"
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ "$pass" -gt 0 ] && [ "$fail" -eq 0 ]
