#!/usr/bin/env bash
# pg_put_ways.sh [ROWS] [ROUNDS] -- ways a PostgreSQL 15 server can take
# the rows our batched put writes, side by side, with no client at all.
#
#   bash tests/pg_run.sh bash bench/pg_put_ways.sh 1000000 1
#
# Makes ROWS rows of bench_pg's shape inside the server (as
# bench/pg_put_floor.sh does: bench/pg_floor_src.sh), cut into files of
# 1,000 rows (COPY ... TO, binary), then loads them into tables with
# every column and index the store keeps (items' schema as the store makes it: unique (ns, key),
# chg, the full-text GIN, the metadata GIN, the partial TTL and delete
# indexes), one transaction per 1,000 rows as am_store_put_many's calls
# of bench_pg, in each way of AM_WAYS (default: all but insert_4m and
# copy_1m):
#
#   insert     the store's statement until schema 7: INSERT ... SELECT
#              with to_tsvector, no ON CONFLICT (a batch of new keys)
#   copy       COPY (FORMAT binary) straight into items, tsv a STORED
#              generated column (to_tsvector('english', text)), so COPY
#              takes its multi-insert path (schema 7, but with the
#              metadata index on every row, as schema 6)
#   insert_4m  insert with the full-text pending list at 4 MB
#   copy_1m    copy with the full-text pending list at 1 MB
#   copy_4m    copy with the full-text pending list at 4 MB (the default)
#   copy_nofu  copy with fastupdate off on both GIN indexes
#   copy_mpart copy with the metadata GIN only on rows that have metadata
#              (WHERE metaj <> '{}')
#   copy_4m_mpart  both of the last two
#   bare       bench_pg's bare COPY peer: id, ns, key, value, text, tsv,
#              vec, GIN on tsv (default options), unique (ns, key)
#
# Per way: the server's CPU per row (its own /proc/self/stat: a test
# cluster's superuser), wall time per row, rows per second of CPU and of
# wall, WAL bytes and records per row (pg_waldump), the GIN pending lists
# merged at the end (counted in), what that final merge cost alone, and
# a rare word's full-text lookup before that merge (median of 15, the
# pending list scanned) and after it. The wall figure needs a quiet server.
set -eu
rows=${1:-1000000}
rounds=${2:-1}
: "${AM_TEST_STORE:?run me under tests/pg_run.sh}"
dir=${AM_TEST_PG_DIR:?run me under tests/pg_run.sh}
here=$(cd "$(dirname "$0")/.." && pwd)
chunks=$(((rows + 999) / 1000))
hz=$(getconf CLK_TCK)

. "$here/bench/pg_floor_src.sh"
{ floor_src_sql "$rows"; cat <<SQL
DO \$\$ BEGIN
  FOR c IN 0..$chunks - 1 LOOP
    EXECUTE format('COPY (SELECT ns, key, value, ''{}''::text, text, 8::int8,
        NULL::int8, ''caller/128''::text, vec, 1::int8, 1::int8,
        ''floor''::text FROM src WHERE n > %s AND n <= %s ORDER BY n)
      TO %L (FORMAT binary)', c * 1000, c * 1000 + 1000,
      '$dir/ways_' || c || '.bin');
    EXECUTE format('COPY (SELECT ns, key, value, text, vec FROM src
      WHERE n > %s AND n <= %s ORDER BY n) TO %L (FORMAT binary)',
      c * 1000, c * 1000 + 1000, '$dir/bare_' || c || '.bin');
  END LOOP; END \$\$;
SQL
} | q
# A rare word of the vocabulary (the Zipf tail).
rare=$(q -tA -c "SELECT sylw(4990)")

# The store's items table as migrations made it, emptied; tsv generated
# from text (schema 7) for the COPY ways, a plain column (schema 6) for
# the INSERT ways.
make_items() { # NAME TSV_GENERATED(0/1) TSV_OPTS META_INDEX
    cat <<SQL
DROP TABLE IF EXISTS $1;
CREATE TABLE $1 (LIKE floor.items INCLUDING DEFAULTS INCLUDING GENERATED
  INCLUDING CONSTRAINTS);
ALTER TABLE $1 ADD PRIMARY KEY (id), ADD UNIQUE (ns, key);
SQL
    if [ "$2" = 1 ]; then
        echo "ALTER TABLE $1 DROP COLUMN tsv, ADD COLUMN tsv tsvector
  GENERATED ALWAYS AS (to_tsvector('english', text)) STORED;"
    else
        echo "ALTER TABLE $1 DROP COLUMN tsv, ADD COLUMN tsv tsvector NOT NULL;"
    fi
    cat <<SQL
CREATE INDEX ${1}_tsv ON $1 USING gin(tsv) WITH ($3);
CREATE INDEX ON $1(chg);
CREATE INDEX ON $1(expires_ms) WHERE expires_ms IS NOT NULL;
CREATE INDEX ON $1(deleted_ms) WHERE deleted_ms IS NOT NULL;
CREATE INDEX ${1}_metaj ON $1 USING gin(metaj jsonb_path_ops) $4;
SQL
}

cols="ns, key, value, meta, text, doc_len, expires_ms, vec_model, vec,
  created_ms, updated_ms, add_actor"
load_copy() { # TABLE FILEPREFIX COLS
    echo "DO \$\$ BEGIN FOR c IN 0..$chunks - 1 LOOP
  EXECUTE format('COPY $1($3) FROM %L (FORMAT binary)',
    '$dir/$2_' || c || '.bin');
  COMMIT; END LOOP; END \$\$;"
}
load_insert() { # TABLE
    echo "DO \$\$ BEGIN FOR i IN 0..$rows - 1 BY 1000 LOOP
  INSERT INTO $1(ns, key, value, meta, text, tsv, doc_len, expires_ms,
      vec_model, vec, created_ms, updated_ms, add_actor)
    SELECT ns, key, value, '{}', text, to_tsvector('english', text), 8,
      NULL, 'caller/128', vec, 1, 1, 'floor' FROM src
    WHERE n > i AND n <= i + 1000;
  COMMIT; END LOOP; END \$\$;"
}

# The lookup's median of 15, in ms: a rare word, through the GIN index.
lookup() { # TABLE COLUMN_NAME
    echo "DO \$\$ DECLARE t timestamptz; d float8[] := '{}'; k bigint;
BEGIN SET LOCAL enable_seqscan = off;
  FOR i IN 1..15 LOOP t := clock_timestamp();
    SELECT count(*) INTO k FROM $1 WHERE tsv @@ to_tsquery('english', '$rare');
    d := d || extract(epoch FROM clock_timestamp() - t) * 1000; END LOOP;
  INSERT INTO m_$2 SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x)
    FROM unnest(d) x; END \$\$;"
}

way() { # NAME DDL LOAD
    local lsn0 lsn1 recs
    q -c "CHECKPOINT" >/dev/null
    lsn0=$(q -tA -c "SELECT pg_current_wal_lsn()")
    q -t <<SQL | sed '/^$/d'
SET floor.hz = $hz;
$2
DROP TABLE IF EXISTS m, m_pend, m_merged, m_clean;
CREATE TABLE m_pend(ms float8); CREATE TABLE m_merged(ms float8);
CREATE TABLE m AS SELECT cpu_ticks() c, clock_timestamp() t;
$3
$(lookup "$1" pend)
CREATE TABLE m_clean AS SELECT cpu_ticks() c, clock_timestamp() t;
SELECT count(gin_clean_pending_list(indexrelid)) FROM pg_index JOIN pg_am a
  ON a.oid = (SELECT relam FROM pg_class WHERE oid = indexrelid)
  WHERE indrelid = '$1'::regclass AND a.amname = 'gin';
$(lookup "$1" merged)
SELECT format('%-14s %5s us CPU/row %5s us wall/row %7s/s CPU %7s/s wall '
  '(merge at end %4s us CPU/row) lookup %s ms pending, %s ms merged',
  '$1', round((cpu_ticks() - m.c) * 1e6 / $hz / $rows, 1),
  round(extract(epoch FROM clock_timestamp() - m.t) * 1e6 / $rows, 1),
  round($rows * $hz / greatest(1, cpu_ticks() - m.c)),
  round($rows / extract(epoch FROM clock_timestamp() - m.t)),
  round((cpu_ticks() - m_clean.c) * 1e6 / $hz / $rows, 1),
  (SELECT round(ms::numeric, 3) FROM m_pend),
  (SELECT round(ms::numeric, 3) FROM m_merged))
  FROM m, m_clean;
SQL
    lsn1=$(q -tA -c "SELECT pg_current_wal_lsn()")
    recs=$("$bindir/pg_waldump" -p "$dir/data/pg_wal" -s "$lsn0" -e "$lsn1" \
        --stats 2>/dev/null | awk '/^Total/ {print $2}')
    q -tA -c "SELECT format('%-14s WAL %s B/row, %s records/row', '$1',
      round((pg_wal_lsn_diff('$lsn1', '$lsn0') / $rows)::numeric),
      coalesce(round(nullif('${recs:-}', '')::numeric / $rows, 2)::text,
        'n/a (WAL recycled)'))"
}

echo "# pg_put_ways: $rows rows per way, $rounds rounds, 1,000 rows per transaction, $(date -u +%H:%M) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
    for w in ${AM_WAYS:-insert copy copy_4m copy_nofu copy_mpart copy_4m_mpart bare}; do
        case $w in
        insert) way insert "$(make_items insert 0 gin_pending_list_limit=256 \
            "WITH (gin_pending_list_limit = 64)")" "$(load_insert insert)" ;;
        copy) way copy "$(make_items copy 1 gin_pending_list_limit=256 \
            "WITH (gin_pending_list_limit = 64)")" \
            "$(load_copy copy ways "$cols")" ;;
        insert_4m) way insert_4m "$(make_items insert_4m 0 \
            gin_pending_list_limit=4096 "WITH (gin_pending_list_limit = 64)")" \
            "$(load_insert insert_4m)" ;;
        copy_1m) way copy_1m "$(make_items copy_1m 1 \
            gin_pending_list_limit=1024 "WITH (gin_pending_list_limit = 64)")" \
            "$(load_copy copy_1m ways "$cols")" ;;
        copy_4m) way copy_4m "$(make_items copy_4m 1 \
            gin_pending_list_limit=4096 "WITH (gin_pending_list_limit = 64)")" \
            "$(load_copy copy_4m ways "$cols")" ;;
        copy_nofu) way copy_nofu "$(make_items copy_nofu 1 fastupdate=off \
            "WITH (fastupdate = off)")" "$(load_copy copy_nofu ways "$cols")" ;;
        copy_mpart) way copy_mpart "$(make_items copy_mpart 1 \
            gin_pending_list_limit=256 "WITH (gin_pending_list_limit = 64)
            WHERE metaj <> '{}'")" "$(load_copy copy_mpart ways "$cols")" ;;
        copy_4m_mpart) way copy_4m_mpart "$(make_items copy_4m_mpart 1 \
            gin_pending_list_limit=4096 "WITH (gin_pending_list_limit = 64)
            WHERE metaj <> '{}'")" "$(load_copy copy_4m_mpart ways "$cols")" ;;
        bare) way bare "DROP TABLE IF EXISTS bare; CREATE TABLE bare(
            id bigserial PRIMARY KEY, ns bytea NOT NULL, key bytea NOT NULL,
            value text NOT NULL, text text NOT NULL, tsv tsvector GENERATED
            ALWAYS AS (to_tsvector('english', text)) STORED, vec bytea,
            UNIQUE(ns, key)); CREATE INDEX bare_tsv ON bare USING gin(tsv);" \
            "$(load_copy bare bare "ns, key, value, text, vec")" ;;
        esac
        q -c "DROP TABLE IF EXISTS $w" >/dev/null
    done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
