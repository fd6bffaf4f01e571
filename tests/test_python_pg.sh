#!/usr/bin/env bash
# test_python_pg.sh -- the Python package's PostgreSQL tests
# (python/tests/test_store_pg.py, seed 001's PostgreSQL samples among
# them) against a throwaway server started by tests/pg_run.sh.
set -eu
src=${AM_SOURCE_DIR:?AM_SOURCE_DIR must name the source directory}
exec bash "$src/tests/pg_run.sh" bash "$src/tests/test_python.sh" \
    "$src/python/tests/test_store_pg.py"
