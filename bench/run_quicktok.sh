#!/usr/bin/env bash
# run_quicktok.sh BUILD_DIR QUICKTOK_DIR [SECS [KINDS]] -- agentmem's token
# counting side by side with quicktok, in one process.
#
# quicktok (github.com/dmatth1/quicktok, C++20, MIT) is not in Debian or
# npm, so nothing in this repository depends on it: this script is for a
# local check only. QUICKTOK_DIR is a source tree of it, already built
# with its own CMake into QUICKTOK_DIR/build:
#     cmake -S QUICKTOK_DIR -B QUICKTOK_DIR/build -DCMAKE_BUILD_TYPE=Release
#     cmake --build QUICKTOK_DIR/build
# (portable build, no -march=native, like ours). The script compiles
# bench/quicktok_side.c against QUICKTOK_DIR/include/quicktok.h, its
# build/libquicktok.a and BUILD_DIR/libagentmem.a, writes the corpus of
# bench/tokens_corpus.js (six 1 MB sections) into BUILD_DIR/bench-tokens
# if it is not there, and runs it: ids checked identical on every piece
# first, then single-thread CPU time, best of 3 rounds each, see the
# comment at the top of quicktok_side.c. SECS (default 0.3) is the CPU
# time of one round, KINDS (default whole,msg; msgcache, wholecold,
# msgcold and msgfirst also exist) the kinds of case.
set -euo pipefail
build=${1:?usage: run_quicktok.sh BUILD_DIR QUICKTOK_DIR [SECS [KINDS]]}
qt=${2:?usage: run_quicktok.sh BUILD_DIR QUICKTOK_DIR [SECS [KINDS]]}
secs=${3:-0.3}
kinds=${4:-whole,msg}
here=$(cd "$(dirname "$0")" && pwd)
corpus="$build/bench-tokens"

for f in "$qt/include/quicktok.h" "$qt/build/libquicktok.a" \
         "$qt/data/cl100k.vocab" "$build/libagentmem.a"; do
    if [ ! -f "$f" ]; then
        echo "run_quicktok.sh: $f is missing (see the comment at the top)" >&2
        exit 1
    fi
done
if [ ! -f "$corpus/multilingual.txt" ]; then
    node "$here/tokens_corpus.js" "$corpus" 1
fi
# The library's own flags (-O3 of RelWithDebInfo); the driver's loop is
# trivial beside the calls it times.
gcc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -I"$here/../include" \
    -I"$qt/include" "$here/quicktok_side.c" -o "$build/quicktok_side" \
    "$build/libagentmem.a" "$qt/build/libquicktok.a" \
    $(pkg-config --libs sqlite3 jansson libcurl libzstd libutf8proc libpq libcrypto) \
    -lstdc++ -lpthread -lm -ldl
# Warm the binary rank-table caches.
"$build/agentmem" tokens count --encoding cl100k_base </dev/null >/dev/null
"$build/agentmem" tokens count --encoding o200k_base </dev/null >/dev/null
echo "quicktok $(git -C "$qt" rev-parse --short HEAD 2>/dev/null ||
                 cat "$qt/COMMIT" 2>/dev/null || echo '(unknown commit)')," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/quicktok_side" "$corpus" "$qt/data" "$secs" "$kinds"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
