#!/usr/bin/env bash
# test_python.sh [PYTEST_ARGS...] -- build the Python package (python/)
# against this build's static library with Debian's Python 3.11 and run its
# pytest suite (or what PYTEST_ARGS name: test_python_pg.sh runs the
# PostgreSQL tests this way).
set -eu
src=${AM_SOURCE_DIR:?AM_SOURCE_DIR must name the source directory}
bin=${AM_BINARY_DIR:?AM_BINARY_DIR must name the build directory}
py=/usr/bin/python3
if ! "$py" -c 'import pytest' 2>/dev/null; then
    echo "python3-pytest is missing: run scripts/setup"; exit 1
fi
cd "$src/python"
# ctest -j may run this twice at once (test_python_sh, test_python_pg_sh):
# one build at a time into the shared build base.
(
    flock 9
    AGENTMEM_BUILD_DIR="$bin" "$py" setup.py -q build --build-base \
        "$bin/python" >"$bin/python-build.log" 2>&1 ||
        { cat "$bin/python-build.log"; exit 1; }
) 9>"$bin/python-build.lock"
lib=$(ls -d "$bin"/python/lib.*)
cd "$bin"
[ $# -gt 0 ] || set -- "$src/python/tests"
PYTHONPATH="$lib" PYTHONDONTWRITEBYTECODE=1 "$py" -m pytest -q -p no:cacheprovider \
    "$@"
