# pg_floor_src.sh -- sourced by bench/pg_put_floor.sh and
# bench/pg_put_ways.sh (under tests/pg_run.sh, with `here` the checkout):
# the store's schema "floor", made by build/agentmem itself, and
# floor_src_sql ROWS, which prints the SQL that makes, inside the server,
# the functions cpu_ticks() (this server process's CPU ticks, from
# /proc/self/stat: a test cluster's superuser) and sylw(i) (the i-th word
# of bench_pg's syllable vocabulary), and the table src(n, ns, key, value,
# text, vec) of ROWS rows of bench_pg's shape: 8 words from 5,000,
# Zipf-like, and a 512-byte vector (what 128 float32 are). Also `bindir`
# (the newest installed PostgreSQL's programs) and q ARGS... (psql on the
# test store, stopping at the first error), which both scripts use.

bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
q() {
    PGOPTIONS='-c client_min_messages=warning' "$bindir/psql" -X -q \
        -v ON_ERROR_STOP=1 "$AM_TEST_STORE" "$@"
}

"$here/build/agentmem" store put --db "$AM_TEST_STORE/floor" ns k '"v"' \
    >/dev/null 2>&1 || {
    echo "$0: build/agentmem could not create the store" >&2
    exit 1
}

floor_src_sql() { # ROWS
    cat <<SQL
CREATE OR REPLACE FUNCTION cpu_ticks() RETURNS bigint LANGUAGE sql AS \$\$
  SELECT split_part(s, ' ', 14)::bigint + split_part(s, ' ', 15)::bigint
  FROM pg_read_file('/proc/self/stat') s \$\$;
CREATE OR REPLACE FUNCTION sylw(i int) RETURNS text LANGUAGE plpgsql
IMMUTABLE AS \$\$
DECLARE x int := i + 12; s text := '';
  syl text[] := '{ka,lo,mi,ne,ru,ta,shi,po,va,de,zu,fe}';
BEGIN WHILE x > 0 LOOP s := s || syl[1 + x % 12]; x := x / 12; END LOOP;
  RETURN s; END \$\$;
DROP TABLE IF EXISTS src;
CREATE TABLE src AS
WITH voc AS (SELECT array_agg(sylw(g) ORDER BY g) a
             FROM generate_series(0, 4999) g)
SELECT n, '\x62656e63681f'::bytea AS ns, convert_to('k' || n, 'UTF8') AS key,
  'value ' || n AS value,
  (SELECT string_agg(voc.a[least(5000, floor(exp(random() * ln(5001)))::int)
                           + 0 * k], ' ')
   FROM generate_series(1, 8) k WHERE k > n - n) AS text,
  (SELECT string_agg(decode(md5(random()::text || k), 'hex'), ''::bytea)
   FROM generate_series(1, 32) k WHERE k > n - n) AS vec
FROM generate_series(1, $1) n, voc;
CREATE INDEX ON src(n);
ANALYZE src;
SQL
}
