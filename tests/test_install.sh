#!/usr/bin/env bash
# test_install.sh -- install into a temporary prefix and build a small
# program against the installed library through pkg-config, shared and
# static, then run both.
set -u
bin=${AM_BINARY_DIR:?AM_BINARY_DIR must name the build directory}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }

if cmake --install "$bin" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1; then ok; else
    bad install; cat "$tmp/install.log"; echo "$pass passed, $fails failed"; exit 1; fi
pc=$(find "$tmp/prefix" -name agentmem.pc | head -1)
[ -n "$pc" ] && ok || bad "agentmem.pc not installed"
[ -f "$tmp/prefix/include/agentmem/conv.h" ] && ok || bad "conv.h not installed"
[ -x "$tmp/prefix/bin/agentmem" ] && ok || bad "agentmem CLI not installed"
[ -s "$tmp/prefix/share/man/man1/agentmem.1" ] && ok || bad "agentmem.1 not installed"
[ -s "$tmp/prefix/share/bash-completion/completions/agentmem" ] && ok ||
    bad "bash completion not installed"
for f in LICENSE NOTICE; do
    cmp -s "$tmp/prefix/share/doc/agentmem/$f" "${AM_SOURCE_DIR:?}/$f" && ok || bad "$f not installed"
done
export PKG_CONFIG_PATH=$(dirname "$pc")

cat > "$tmp/prog.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <agentmem/agentmem.h>

int main(void)
{
    am_conv *c = NULL;
    am_buf out = AM_BUF_INIT;
    am_msg *m = NULL;
    am_error err = { AM_OK, "" };
    am_tool_call tc = { AM_STR("call_1"), AM_STR("function"),
                        AM_STR("weather"), AM_STR("{\"city\":\"Lyon\"}") };
    int ok;

    if (am_conv_create(NULL, &c, &err) != AM_OK)
        return 1;
    am_conv_add_text(c, AM_ROLE_SYSTEM, AM_STR("Be brief."));
    am_conv_add_text(c, AM_ROLE_USER, AM_STR("Weather in Lyon?"));
    am_msg_create(NULL, AM_ROLE_ASSISTANT, &m, &err);
    am_msg_add_tool_call(m, &tc, &err);
    am_conv_add(c, m);
    am_msg_free(m);
    am_msg_create_text(NULL, AM_ROLE_TOOL, AM_STR("sunny"), &m, &err);
    am_msg_set_tool_call_id(m, AM_STR("call_1"), &err);
    am_conv_add(c, m);
    am_msg_free(m);
    if (am_conv_to_json(c, AM_FORMAT_ANTHROPIC, 0, &out) != AM_OK)
        return 2;
    printf("%s %s", am_version(), out.ptr);
    ok = strstr(out.ptr, "\"tool_use_id\":\"call_1\"") != NULL;
    am_buf_free(&out);
    am_conv_free(c);
    return ok ? 0 : 3;
}
C
# Shared, exactly as a user would: no -Wl,-rpath of our own, the .pc
# carries it.
cflags=$(pkg-config --cflags agentmem) || bad "pkg-config --cflags"
libs=$(pkg-config --libs agentmem) || bad "pkg-config --libs"
libdir=$(pkg-config --variable=libdir agentmem)
if cc -std=c11 -Wall -Werror $cflags "$tmp/prog.c" -o "$tmp/prog_shared" $libs \
        2>"$tmp/cc.err"; then ok; else bad "shared build"; cat "$tmp/cc.err"; fi
if [ -x "$tmp/prog_shared" ]; then
    out=$("$tmp/prog_shared") && ok || bad "shared run (libagentmem.so found without LD_LIBRARY_PATH?)"
    case "$out" in *'"system":"Be brief."'*) ok ;; *) bad "shared output: $out" ;; esac
    so=$(ldd "$tmp/prog_shared" | awk '/libagentmem/ {print $3}')
    [ "$(readlink -f "$so")" = "$(readlink -f "$libdir/libagentmem.so")" ] && ok ||
        bad "not linked to the installed .so: $so"
fi
# Static libagentmem through `pkg-config --static`: -lagentmem is replaced
# by the archive so that the linker cannot pick the .so.
static_libs=$(pkg-config --static --libs agentmem) || bad "pkg-config --static --libs"
static_libs=$(echo " $static_libs " | sed "s| -lagentmem | $libdir/libagentmem.a |")
if cc -std=c11 -Wall -Werror $cflags "$tmp/prog.c" -o "$tmp/prog_static" \
        $static_libs 2>"$tmp/cc.err"; then ok; else
    bad "static build: cc ... $static_libs"; cat "$tmp/cc.err"; fi
if [ -x "$tmp/prog_static" ]; then
    "$tmp/prog_static" >/dev/null && ok || bad "static run"
    if ldd "$tmp/prog_static" | grep -q libagentmem; then bad "static binary uses the .so"; else ok; fi
fi

# A scratch CMake project: find_package(agentmem) and its imported targets,
# shared and static.
cmake_consumer() { # prefix builddir
    mkdir -p "$tmp/cmk"
    cp "$tmp/prog.c" "$tmp/cmk/prog.c"
    cat > "$tmp/cmk/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(agentmem 0.1 REQUIRED)
add_executable(prog_shared prog.c)
target_link_libraries(prog_shared PRIVATE agentmem::agentmem)
add_executable(prog_static prog.c)
target_link_libraries(prog_static PRIVATE agentmem::agentmem_static)
CM
    if cmake -S "$tmp/cmk" -B "$2" -DCMAKE_PREFIX_PATH="$1" >"$tmp/cmk.log" 2>&1 &&
       cmake --build "$2" >>"$tmp/cmk.log" 2>&1; then ok; else
        bad "CMake consumer of $1"; tail -20 "$tmp/cmk.log"; return; fi
    "$2/prog_shared" | grep -q '"tool_use_id":"call_1"' && ok || bad "CMake shared run"
    so=$(ldd "$2/prog_shared" | awk '/libagentmem/ {print $3}')
    case "$(readlink -f "$so")" in "$(readlink -f "$1")"/*) ok ;;
        *) bad "CMake program not linked to $1: $so" ;; esac
    "$2/prog_static" >/dev/null && ok || bad "CMake static run"
}
cmake_consumer "$tmp/prefix" "$tmp/cmk-build"

# Move the whole install, as if unpacked somewhere else: the CLI finds its
# data next to itself, not where the build was configured. (The build and
# source trees stay on the search path after it, for builds that are never
# installed; ctest runs from the build tree, so this test cannot delete it,
# and instead checks that every data file resolves inside the moved prefix.)
mv "$tmp/prefix" "$tmp/moved"
cli="$tmp/moved/bin/agentmem"
ver=$(env -u AGENTMEM_DATA_DIR "$cli" version --verbose) || bad "moved CLI: version"
for f in cl100k_base.tiktoken o200k_base.tiktoken p50k_base.tiktoken r50k_base.tiktoken; do
    echo "$ver" | grep -q "^$f *$tmp/moved/share/agentmem/$f\$" && ok ||
        bad "moved CLI finds $f elsewhere: $(echo "$ver" | grep "^$f")"
done
if [ -f "${AM_SOURCE_DIR}/data/wordvec-sg100.bin" ]; then
    echo "$ver" | grep -q "^wordvec-sg100.bin *$tmp/moved/share/agentmem/" && ok ||
        bad "moved CLI finds the word vectors elsewhere: $(echo "$ver" | grep wordvec)"
fi
n=$(printf "hello world" | env -u AGENTMEM_DATA_DIR "$cli" tokens count --encoding o200k_base) &&
    [ "$n" = 2 ] && ok || bad "moved CLI: tokens count said '$n'"
(cd "$tmp" && env -u AGENTMEM_DATA_DIR "$cli" store put --db "$tmp/s.db" notes k1 '{"text":"the cat sat on the mat"}' >/dev/null &&
    env -u AGENTMEM_DATA_DIR "$cli" store search --db "$tmp/s.db" cat | grep -q k1) && ok ||
    bad "moved CLI: store put/search"
# Consumers of the moved prefix work too (pkg-config and CMake).
export PKG_CONFIG_PATH=$tmp/moved/lib/pkgconfig
if cc -std=c11 $(pkg-config --cflags agentmem) "$tmp/prog.c" -o "$tmp/prog_moved" \
        $(pkg-config --libs agentmem) 2>"$tmp/cc.err" && "$tmp/prog_moved" >/dev/null; then ok; else
    bad "pkg-config consumer of the moved prefix"; cat "$tmp/cc.err"; fi
cmake_consumer "$tmp/moved" "$tmp/cmk-build2"
echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
