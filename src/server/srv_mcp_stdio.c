/* srv_mcp_stdio.c -- `agentmem mcp`: MCP over stdin and stdout.
 *
 * The client starts us and writes one JSON-RPC message per line; we answer
 * each request with one line on stdout, flushed at once. Nothing else ever
 * goes to stdout: logs go to stderr. Messages are answered in order, one at
 * a time; several `agentmem mcp` processes may share one database, since
 * the store serializes writers across processes and acknowledges a write
 * only once it is committed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "srv_mcp.h"

static const srv_tenant local_tenant = { "", true };

static void send_line(json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (text == NULL)
        text = strdup("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":"
                      "-32603,\"message\":\"out of memory\"}}");
    if (text == NULL)
        return;
    fputs(text, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(text);
}

int srv_mcp_stdio(const srv_opts *o)
{
    srv_ctx ctx;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (!srv_ctx_open(&ctx, o, 0, false))
        return 1;
    srv_ctx_forget_key(&ctx);
    srv_log("mcp_stdio", json_pack("{s:s}", "db", srv_db_shown(o->db)));
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        json_t *msg, *res;
        json_error_t je;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        if ((size_t)n > ctx.max_body) {
            send_line(srv_mcp_error(NULL, -32600, "message too large"));
            continue;
        }
        if (srv_json_depth(line, (size_t)n, ctx.max_depth) > ctx.max_depth) {
            send_line(srv_mcp_error(NULL, -32600, "message nests too deep"));
            continue;
        }
        msg = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &je);
        if (msg == NULL) {
            send_line(srv_mcp_error(NULL, -32700, "parse error: not JSON"));
            continue;
        }
        res = srv_mcp_handle(&ctx, &local_tenant, msg);
        json_decref(msg);
        if (res != NULL)
            send_line(res);
    }
    free(line);
    srv_ctx_close(&ctx);
    return 0;
}
