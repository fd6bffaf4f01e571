#!/usr/bin/env bash
# scripts/setup.d/sqlcipher.sh -- the SQLCipher amalgamation, for encryption
# at rest of the store and tiers databases (issue 16).
#
# Debian 12's libsqlcipher-dev is SQLCipher 3.4.1 on SQLite 3.15.2, too old
# for our SQL (upsert, window functions, prepare_v3, FTS5; see
# docs/internals/SEEDS.md). SQLCipher 4.5.5 (BSD-3-Clause, Zetetic LLC) is
# published on npm as one amalgamated source file (SQLite 3.42.0 with the
# codec) by Comm Technologies: @commapp/sqlcipher-amalgamation. This step
# fetches that package's tarball with `npm pack`, checks its SHA-256, and
# extracts sqlite3.c, sqlite3.h and the licence into build-npm/sqlcipher/
# (git-ignored), where CMake finds them (AGENTMEM_ENCRYPTION, see
# CMakeLists.txt). The cipher itself is OpenSSL's (libssl-dev).
#
# Idempotent: does nothing when the extracted sources are there and match
# their checksums. A failed download leaves no partial files; the build
# then goes on without encryption (a key is AM_EUNSUPPORTED).
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
PKG=@commapp/sqlcipher-amalgamation@4.5.5
TGZ=commapp-sqlcipher-amalgamation-4.5.5.tgz
TGZ_SHA256=5e49e540eb0274d8ba87c1ce680a1143971a2528e0783044a08b39c97ea07d13
# What the extracted files must be (from the verified tarball).
SUMS="457f4de07269b6e4e72b52980448c37bec36395ce16fee5929bd5a80f79f9715  sqlite3.c
31eeab05c62ed890e96c6fcfba46471a647f93eaf664b90f7cb5978c3dd34ba4  sqlite3.h
09e4af560ce2e3c9c2aa6b564e35947b03db7d1ae345f22a32793ed46542cc14  LICENSE"
out="$here/build-npm/sqlcipher"

sums_ok() { # DIR
    (cd "$1" && echo "$SUMS" | sha256sum --quiet -c - >/dev/null 2>&1)
}
if [ -d "$out" ] && sums_ok "$out"; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm missing; building without encryption at rest" >&2
    exit 0
fi
echo "setup: downloading $PKG from npm (2.4 MB: SQLCipher 4.5.5, SQLite" \
     "3.42.0 with encryption, BSD licence) into build-npm/sqlcipher ..."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && npm pack --silent "$PKG" >/dev/null 2>&1) ||
   [ ! -s "$tmp/$TGZ" ]; then
    echo "setup: npm pack $PKG failed; building without encryption at" \
         "rest until this step succeeds" >&2
    exit 0
fi
got=$(sha256sum "$tmp/$TGZ" | cut -d' ' -f1)
if [ "$got" != "$TGZ_SHA256" ]; then
    echo "setup: $TGZ has SHA-256 $got, expected $TGZ_SHA256: not using" \
         "it (building without encryption at rest)" >&2
    exit 0
fi
tar -xzf "$tmp/$TGZ" -C "$tmp" package/src/sqlite3.c package/src/sqlite3.h \
    package/LICENSE
rm -rf "$out.new"
mkdir -p "$out.new"
mv "$tmp/package/src/sqlite3.c" "$tmp/package/src/sqlite3.h" \
    "$tmp/package/LICENSE" "$out.new/"
if ! sums_ok "$out.new"; then
    echo "setup: the files in $TGZ are not the expected ones; building" \
         "without encryption at rest" >&2
    rm -rf "$out.new"
    exit 0
fi
rm -rf "$out"
mv "$out.new" "$out"
echo "setup: done: build-npm/sqlcipher"
