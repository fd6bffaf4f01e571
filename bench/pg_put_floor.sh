#!/usr/bin/env bash
# pg_put_floor.sh [ROWS] [ROUNDS] -- the least a PostgreSQL server spends
# per row on the rows our batched put writes, with no client at all.
#
#   bash tests/pg_run.sh bash bench/pg_put_floor.sh 100000 2
#
# Makes ROWS rows of bench_pg's shape inside the server (8 words from the
# same syllable vocabulary, Zipf-like; a 512-byte vector as bytea, what
# 128 float32 are), writes them to a file with COPY ... TO, then loads that
# file with a server-side COPY ... FROM (binary, and text for the
# heap) into tables that add one part at a time:
#
#   heap      the five columns, no index
#   keys      + bigserial primary key and UNIQUE(ns, key)
#   keys_tsv  + tsv, to_tsvector('english', text) (a generated column)
#   peer      + GIN on tsv, default options: bench_pg's libpq peer
#   peer_1m   the same with gin_pending_list_limit = 1024
#   peer_64k  the same with 64 (the store's until schema version 5)
#
# and the store's own statement shape (INSERT ... SELECT ... ON CONFLICT,
# each row's "add" event in the row since schema 6) into its own tables, 1,000 rows per
# transaction (store_<kB>: the full-text pending list at each size of
# AM_FLOOR_STORE_KB, default "1024 256 64"; schema version 5 has 256,
# version 4 had 64). AM_FLOOR_COPY=0 leaves the COPY ways out. Every
# GIN pending list is merged before the clock stops. Prints, per way, the
# server process's CPU per row (from /proc/self/stat, read by the server
# itself: superuser, so a test cluster), wall time per row and WAL bytes
# per row. The server must not be shared with other work for the wall
# figure; the CPU figure holds under load.
set -eu
rows=${1:-100000}
rounds=${2:-2}
: "${AM_TEST_STORE:?run me under tests/pg_run.sh}"
dir=${AM_TEST_PG_DIR:?run me under tests/pg_run.sh}
here=$(cd "$(dirname "$0")/.." && pwd)

. "$here/bench/pg_floor_src.sh"
{ floor_src_sql "$rows"; cat <<SQL
COPY (SELECT ns, key, value, text, vec FROM src ORDER BY n)
  TO '$dir/floor.bin' (FORMAT binary);
COPY (SELECT ns, key, value, text, vec FROM src ORDER BY n)
  TO '$dir/floor.txt';
SQL
} | q

base="CREATE TABLE t(id bigserial PRIMARY KEY, ns bytea, key bytea,
  value text, text text, vec bytea, UNIQUE(ns, key)"
tsv=", tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text))
  STORED"
measure_start="CHECKPOINT; CREATE TEMP TABLE m AS SELECT cpu_ticks() c,
  pg_current_wal_lsn() l, clock_timestamp() t;"
measure_end() { # NAME
    echo "SELECT format('%-16s %6s us CPU/row  %6s us wall/row  %5s WAL B/row',
  '$1', round((cpu_ticks() - c) * 1e6 / current_setting('floor.hz')::int
              / $rows, 1),
  round(extract(epoch FROM clock_timestamp() - t) * 1e6 / $rows, 1),
  round((pg_current_wal_lsn() - l) / $rows)) FROM m;"
}
hz=$(getconf CLK_TCK)

copy_way() { # NAME DDL FORMAT
    local f="$dir/floor.bin" o="(FORMAT binary)"
    if [ "$3" = text ]; then f="$dir/floor.txt"; o=""; fi
    q -t <<SQL | sed '/^$/d;/|/d;/^ *[0-9]* *$/d'
SET floor.hz = $hz;
DROP TABLE IF EXISTS t;
$2;
$measure_start
COPY t(ns, key, value, text, vec) FROM '$f' $o;
SELECT gin_clean_pending_list(indexrelid) FROM pg_index
  WHERE indrelid = 't'::regclass AND indexrelid::regclass::text LIKE '%tsv%';
$(measure_end "$1")
SQL
}

store_way() { # NAME PENDING_KB
    q -t <<SQL | sed '/^$/d;/|/d;/^ *[0-9]* *$/d'
SET floor.hz = $hz;
SET search_path = floor, public;
TRUNCATE items, item_history;
ALTER INDEX items_tsv SET (gin_pending_list_limit = $2);
$measure_start
DO \$\$ DECLARE c bigint; BEGIN
  FOR i IN 0..$rows - 1 BY 1000 LOOP
    WITH ins AS (INSERT INTO items(ns, key, value, meta, text, doc_len,
        expires_ms, vec_model, vec, created_ms, updated_ms, add_actor)
      SELECT ns, key, value, '{}', text, 8,
        NULL, 'caller/128', vec, 1, 1, 'floor' FROM public.src
      WHERE n > i AND n <= i + 1000
      ON CONFLICT (ns, key) DO NOTHING RETURNING id)
    SELECT count(*) FROM ins INTO c;
    COMMIT;
  END LOOP; END \$\$;
SELECT gin_clean_pending_list('items_tsv'),
  gin_clean_pending_list('items_metaj');
$(measure_end "$1")
SQL
}

echo "# pg_put_floor: $rows rows per way, $rounds rounds, $(date -u +%H:%M) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
    for kb in ${AM_FLOOR_STORE_KB:-1024 256 64}; do
        store_way "store_${kb}k" "$kb"
    done
    [ "${AM_FLOOR_COPY:-1}" = 0 ] && continue
    copy_way heap "CREATE TABLE t(ns bytea, key bytea, value text, text text,
      vec bytea)" binary
    copy_way heap_text "CREATE TABLE t(ns bytea, key bytea, value text,
      text text, vec bytea)" text
    copy_way keys "$base)" binary
    copy_way keys_tsv "$base $tsv)" binary
    copy_way peer "$base $tsv); CREATE INDEX ON t USING gin(tsv)" binary
    copy_way peer_1m "$base $tsv); CREATE INDEX ON t USING gin(tsv)
      WITH (gin_pending_list_limit = 1024)" binary
    copy_way peer_64k "$base $tsv); CREATE INDEX ON t USING gin(tsv)
      WITH (gin_pending_list_limit = 64)" binary
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
