#!/usr/bin/env bash
# test_python_venv.sh -- the Python package installs as python/README.md's
# "Install" block says, into a fresh venv, with no network: the block runs
# as written from a copy of the repository's tracked files (what a clone
# has), then the installed package is used from elsewhere with the copy
# gone, so it stands on its own (its extension, its rank files).
#
# Like a first install on a fresh clone, pip runs setup.py, which
# configures the C library with CMake and builds it into the copy's
# build-python/ (nothing of this build directory is used). One thing
# differs, and says so: `bash scripts/setup` is not run (make test has run
# it, and it needs root). The library build is most of the test's time
# (about a minute of CPU): when ccache is installed, the compiler goes
# through it (CMake reads CMAKE_C_COMPILER_LAUNCHER), with paths taken
# relative to the copy, so that a later run compiles only what changed.
# The compiler's output is the same either way; the package cannot see
# the cache.
set -u
src=${AM_SOURCE_DIR:?AM_SOURCE_DIR must name the source directory}
py=/usr/bin/python3
# Without python3-venv there is no venv to install into: a skip (77), not
# a failure of the package. scripts/setup installs it.
if ! "$py" -c 'import ensurepip' 2>/dev/null; then
    echo "skip: python3-venv is missing (scripts/setup installs it)"; exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }

clone="$tmp/clone"
mkdir -p "$clone" "$tmp/home"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$clone"
else
    (cd "$src" && tar --exclude='./build*' --exclude=./data \
        --exclude=./python/build --exclude='*.egg-info' -cf - .) |
        tar -xf - -C "$clone"
fi
[ ! -e "$clone/build-python" ] || bad "the copy has a build-python/ already"
# What scripts/setup would have added to the clone: the word vectors
# (data/, not tracked), which setup.py copies into the package.
if [ -f "$src/data/wordvec-sg100.bin" ]; then
    mkdir -p "$clone/data"
    cp "$src/data/wordvec-sg100.bin" "$clone/data/"
else
    echo "no data/wordvec-sg100.bin: run scripts/setup"; exit 1
fi

# The first ```sh block after "## Install", without `bash scripts/setup`.
awk '
    /^## / { inst = ($0 ~ /^## Install/) }
    inst && /^```sh$/ && !done { on = 1; next }
    on && /^```/ { on = 0; done = 1; next }
    on && !/^bash scripts\/setup/ { print }
' "$src/python/README.md" >"$tmp/install.sh"
grep -q 'pip install' "$tmp/install.sh" ||
    bad "no pip install in python/README.md's Install block"

# Nothing from this machine's setup may help: no pip configuration, no
# package index, no variables the package could read.
clean_env=(env -u AGENTMEM_BUILD_DIR -u AGENTMEM_DATA_DIR -u PYTHONPATH
           -u PYTHONHOME -u VIRTUAL_ENV -u CMAKE_C_COMPILER_LAUNCHER
           HOME="$tmp/home"
           PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1
           PIP_DISABLE_PIP_VERSION_CHECK=1)
cache_env=()
if command -v ccache >/dev/null 2>&1; then
    cache_env=(CMAKE_C_COMPILER_LAUNCHER=ccache CCACHE_BASEDIR="$clone"
               CCACHE_NOHASHDIR=1
               CCACHE_DIR="${CCACHE_DIR:-$(ccache -k cache_dir)}")
fi
if (cd "$clone" && "${clean_env[@]}" "${cache_env[@]}" \
        bash -e "$tmp/install.sh") \
        >"$tmp/install.log" 2>&1; then
    ok
    # The block ends by counting the tokens of "hello world".
    [ "$(tail -1 "$tmp/install.log")" = 2 ] && ok ||
        bad "the Install block's last line printed '$(tail -1 "$tmp/install.log")', not 2"
else
    bad "python/README.md's Install block fails as written:"
    tail -30 "$tmp/install.log"
fi

# The install drove CMake itself: the library it linked was built here.
[ -f "$clone/build-python/libagentmem.a" ] && ok ||
    bad "setup.py did not build libagentmem.a into the copy's build-python/"

venv="$clone/.venv"
if [ -x "$venv/bin/python" ]; then
    find "$clone" -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf {} +
    cat >"$tmp/use.py" <<'PY'
import os, sys
import agentmem
from agentmem.context import count_tokens, trim_messages
from agentmem.conversation import ConversationMemory, Message
from agentmem.store import MemoryStore
from agentmem.tiers import HierarchicalMemoryManager

home = os.path.dirname(os.path.dirname(sys.executable))
assert os.path.realpath(agentmem.__file__).startswith(
    os.path.realpath(home)), agentmem.__file__
assert os.path.exists(os.path.join(os.path.dirname(agentmem.__file__),
                                   "data", "wordvec-sg100.bin"))
print("installed in the venv")
assert count_tokens("hello world", model="gpt-4o") == 2
assert count_tokens("hello world", model="gpt-4") == 2  # cl100k rank file
msgs = [{"role": "system", "content": "Be brief."}] + [
    {"role": "user", "content": "question %d" % i} for i in range(50)]
assert trim_messages(msgs, max_messages=3)[0] == msgs[0]
mem = ConversationMemory(max_messages=10)
mem.add_message(Message(role="user", content="hello"))
assert mem.get_recent(1)[0].content == "hello"
with MemoryStore() as store:
    store.put(("user_1", "prefs"), "language", {"value": "Python"})
    assert store.get(("user_1", "prefs"), "language").value == {"value": "Python"}
    assert store.search(("user_1",), query="python")
tiers = HierarchicalMemoryManager()
tiers.store("k1", "a fact to keep", importance=0.9)
assert tiers.retrieve("k1").content == "a fact to keep"
try:
    count_tokens(None)
except TypeError as e:
    print("bad input:", e)
else:
    raise SystemExit("count_tokens(None) did not raise")
print("used")
PY
    if (cd "$tmp" && "${clean_env[@]}" "$venv/bin/python" "$tmp/use.py") \
            >"$tmp/use.log" 2>&1; then
        ok
    else
        bad "the installed package does not work on its own:"
        cat "$tmp/use.log"
    fi
else
    bad "no venv at .venv after the Install block"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
