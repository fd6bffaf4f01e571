#!/usr/bin/env bash
# test_readme.sh -- every C example in README.md compiles and links against
# the library as built, so the tour a user copies from keeps working.
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
deps=$(pkg-config --libs sqlite3 jansson libcurl libzstd libutf8proc libpq)
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
echo "$pass passed, $fail failed"
[ "$pass" -gt 0 ] && [ "$fail" -eq 0 ]
