/* server.h -- the entry points of `agentmem serve` and `agentmem mcp`.
 *
 * The CLI parses the command line into srv_opts and calls one of these;
 * each runs in the foreground until told to stop (SIGTERM/SIGINT for the
 * HTTP server, end of input for MCP over stdio) and returns an exit status.
 */
#ifndef AM_SERVER_H
#define AM_SERVER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct srv_opts {
    /* File or URL, passed to am_store_open; required, not empty (the CLI
     * resolves DATABASE_URL and refuses an empty --db, with the message a
     * user can act on, before it gets here). */
    const char *db;
    const char *listen;      /* "HOST:PORT"; NULL: 127.0.0.1:8080 */
    const char *keys_file;   /* NULL: no auth, loopback only */
    /* The database's encryption key (include/agentmem/encrypt.h), read
     * with am_key_load: this file; NULL: $AGENTMEM_KEY_FILE, else
     * $AGENTMEM_KEY, else none (a plaintext file). */
    const char *key_file;
    unsigned threads;        /* worker threads; 0: 4 */
    unsigned max_conns;      /* open connections before 503; 0: 256 */
    size_t max_body;         /* request body bytes; 0: 1 MiB */
    size_t max_depth;        /* JSON nesting; 0: 32 */
    unsigned timeout_s;      /* idle connection timeout; 0: 30 */
} srv_opts;

/* Serve HTTP (and MCP at /mcp) until SIGTERM or SIGINT; then finish the
 * requests in flight, close the database and return 0. */
int srv_serve(const srv_opts *opts);

/* Serve MCP over stdin/stdout (newline-delimited JSON-RPC) until end of
 * input, then close the database and return 0. Logs go to stderr. */
int srv_mcp_stdio(const srv_opts *opts);

#endif
