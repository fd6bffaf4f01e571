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
    am_error err;
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
cflags=$(pkg-config --cflags agentmem) || bad "pkg-config --cflags"
libs=$(pkg-config --libs agentmem) || bad "pkg-config --libs"
libdir=$(pkg-config --variable=libdir agentmem)
if cc -std=c11 -Wall -Werror $cflags "$tmp/prog.c" -o "$tmp/prog_shared" $libs \
        -Wl,-rpath,"$libdir" 2>"$tmp/cc.err"; then ok; else bad "shared build"; cat "$tmp/cc.err"; fi
if [ -x "$tmp/prog_shared" ]; then
    out=$("$tmp/prog_shared") && ok || bad "shared run"
    case "$out" in *'"system":"Be brief."'*) ok ;; *) bad "shared output: $out" ;; esac
    ldd "$tmp/prog_shared" | grep -q "$libdir/libagentmem.so" && ok || bad "not linked to the installed .so"
fi
# Static libagentmem, with its dependencies (Requires.private) linked as
# shared libraries: their own static closures (libcurl's TLS, LDAP, ...)
# are not installed on a normal machine.
deps=$(pkg-config --print-requires-private agentmem | awk '{print $1}')
static_libs="$(pkg-config --libs $deps) -lpthread -lm" || bad "pkg-config deps"
if cc -std=c11 -Wall -Werror $cflags "$tmp/prog.c" -o "$tmp/prog_static" \
        "$libdir/libagentmem.a" $static_libs 2>"$tmp/cc.err"; then ok; else
    bad "static build"; cat "$tmp/cc.err"; fi
if [ -x "$tmp/prog_static" ]; then
    "$tmp/prog_static" >/dev/null && ok || bad "static run"
    if ldd "$tmp/prog_static" | grep -q libagentmem; then bad "static binary uses the .so"; else ok; fi
fi
echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
