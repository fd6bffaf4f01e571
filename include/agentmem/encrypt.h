/* encrypt.h -- encryption at rest for the store and tiers databases.
 *
 * When a key is given (am_store_opts.key, am_tiers_opts.key), the SQLite
 * file is encrypted with SQLCipher 4: every page, the write-ahead log
 * included, is AES-256-CBC with a per-page random IV and an HMAC-SHA512
 * that detects tampering; the key is a passphrase stretched with
 * PBKDF2-HMAC-SHA512 (256,000 iterations, SQLCipher 4's defaults; this
 * makes each open cost tens of milliseconds on purpose). A passphrase of
 * the form x'<64 hex digits>' is used as the raw 256-bit key, with no
 * stretching (SQLCipher's raw-key syntax). Temporary tables stay in memory.
 *
 *     am_buf key = AM_BUF_INIT;
 *     am_store_opts o = am_store_opts_default();
 *     if (am_key_load(NULL, &key, &err) == AM_OK)    // $AGENTMEM_KEY_FILE
 *         o.key = (am_str){ key.ptr, key.len };      // or $AGENTMEM_KEY
 *     st = am_store_open("memory.db", &o, &s, &err);
 *     am_key_wipe(&key);                             // the store keeps
 *                                                    // no copy of it
 *
 * The library never reads a key from its surroundings by itself: the
 * caller passes it in the options (the CLI and the Python package call
 * am_key_load). A key is never taken from the command line, where other
 * users of the machine can read it (ps, /proc).
 *
 * A file keeps the choice it was created with: a key must be given for an
 * encrypted file and must not be for a plaintext one; either mistake, and
 * a wrong key, are AM_EAUTH with the file named, and never change the
 * file. Encrypting an existing plaintext database in place, and changing
 * a key, are not supported: export the data (am_store_export) and import
 * it into a new encrypted store.
 *
 * Encryption needs a build with SQLCipher (AGENTMEM_ENCRYPTION; scripts/
 * setup fetches its sources); in a build without it every key is
 * AM_EUNSUPPORTED, so a key is never silently ignored.
 */
#ifndef AGENTMEM_ENCRYPT_H
#define AGENTMEM_ENCRYPT_H

#include <stdbool.h>

#include "buf.h"
#include "status.h"
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest key accepted, in bytes (longer is AM_EINVAL). */
#define AM_KEY_MAX 1024

/* Whether this build of the library can encrypt (it was built with
 * SQLCipher). No errors. Thread safety: safe. */
AM_API bool am_encryption_available(void);

/* Read an encryption key into `out` (yours: reuse it, or free it with
 * am_key_wipe; its previous contents are replaced). From the file
 * `key_file` when it is not NULL; else from the file named by the
 * environment variable AGENTMEM_KEY_FILE; else from AGENTMEM_KEY itself.
 * A key file holds the key's bytes; one trailing newline ("\n" or "\r\n")
 * is not part of the key, so `openssl rand -hex 32 > key` works. Keep the
 * file readable by its owner only (chmod 600).
 *
 * Errors, with detail in `err`: AM_ENOTFOUND (no key_file and neither
 * variable set), AM_EINVAL (both variables set: which one is meant is not
 * clear; NULL out), AM_EIO (the key file cannot be read, named),
 * AM_EFORMAT (the key is empty), AM_ELIMIT (longer than AM_KEY_MAX),
 * AM_ENOMEM. On failure `out` is empty. Reads the environment.
 * Thread safety: safe (getenv; do not change the environment meanwhile). */
AM_API am_status am_key_load(const char *key_file, am_buf *out,
                             am_error *err);

/* Overwrite the whole of `key`'s memory with zeros, then free it (as
 * am_buf_free). NULL: no-op. No errors. Thread safety: per-handle. */
AM_API void am_key_wipe(am_buf *key);

#ifdef __cplusplus
}
#endif
#endif
