#!/usr/bin/env bash
# run_python.sh BUILD_DIR -- the Python package against C and the seed.
#
# Builds the package against BUILD_DIR's static library (as make test
# does), writes the inputs (1 MB text, 10,000 OpenAI-style messages), runs
# bench_py_peer (the same calls from C) and bench/python/bench_python.py
# with Debian's /usr/bin/python3. Prints `name value unit` lines.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
py=/usr/bin/python3
cmake --build "$build" --target bench_py_peer agentmem_static >/dev/null
(cd "$src/python" && AGENTMEM_BUILD_DIR="$build" "$py" setup.py -q build \
    --build-base "$build/python" >"$build/python-build.log" 2>&1) ||
    { cat "$build/python-build.log"; exit 1; }
lib=$(ls -d "$build"/python/lib.*)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PYTHONPATH="$lib" "$py" "$here/python/bench_python.py" "$tmp" inputs-only
echo "-- C (bench_py_peer)"
"$build/bench_py_peer" "$tmp/text.txt" "$tmp/conv.json"
echo "-- Python ($("$py" --version))"
PYTHONPATH="$lib" "$py" "$here/python/bench_python.py" "$tmp"
