#!/usr/bin/env bash
# test_python_pg.sh -- the Python package's PostgreSQL tests
# (python/tests/test_store_pg.py, seed 001's PostgreSQL samples among
# them) against a throwaway server started by tests/pg_run.sh (under
# ctest, a database of their own in the run's one server: the pg_cluster
# fixture, AM_TEST_PG_SHARED).
set -eu
src=${AM_SOURCE_DIR:?AM_SOURCE_DIR must name the source directory}
exec bash "$src/tests/pg_run.sh" bash "$src/tests/test_python.sh" \
    "$src/python/tests/test_store_pg.py"
