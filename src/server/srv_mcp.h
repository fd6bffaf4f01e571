/* srv_mcp.h -- the MCP server: one JSON-RPC dispatcher, two transports.
 *
 * srv_mcp.c answers MCP messages (initialize, ping, tools/list, tools/call,
 * resources/list, resources/read) whatever carried them; srv_mcp_stdio.c
 * reads them line by line from stdin, srv_mcp_http.c serves the streamable
 * HTTP transport at /mcp.
 */
#ifndef AM_SRV_MCP_H
#define AM_SRV_MCP_H

#include <microhttpd.h>

#include "srv_int.h"

/* The protocol version to answer an initialize that asked for `asked`
 * (NULL: none): `asked` when we speak it, else our latest. Static text. */
const char *srv_mcp_version(const char *asked);
/* True when `v` is a protocol version we speak. */
bool srv_mcp_version_ok(const char *v);

/* Answer one JSON-RPC message (borrowed). Returns the response (yours), or
 * NULL for a notification or a response, which get no answer. */
json_t *srv_mcp_handle(srv_ctx *ctx, const srv_tenant *t, json_t *msg);

/* A JSON-RPC error response (yours); `id` borrowed, may be NULL. */
json_t *srv_mcp_error(json_t *id, int code, const char *message);

/* Serve one request at /mcp: `method` is the HTTP method, `body` what was
 * posted. Queues the reply and sets *status. */
enum MHD_Result srv_mcp_http(srv_ctx *ctx, const srv_tenant *t,
                             struct MHD_Connection *con, const char *method,
                             const char *body, size_t len, int *status);

/* Sessions of the HTTP transport: ids handed out by initialize, each bound
 * to the tenant that opened it; bounded (the least recently used goes). */
am_status srv_mcp_sessions_create(srv_mcp_sessions **out);
void srv_mcp_sessions_free(srv_mcp_sessions *s);

#endif
