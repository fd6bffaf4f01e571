/* cmd_tokens.c -- `agentmem tokens count|encode|decode`.
 *
 *   agentmem tokens count  [--encoding E | --model M] [--messages]
 *                          [--jsonl] [--allow-special] [FILE...]
 *   agentmem tokens encode [--encoding E | --model M] [--jsonl]
 *                          [--allow-special] [FILE...]
 *   agentmem tokens decode [--encoding E | --model M] [FILE...]
 *
 * Without FILE the input is stdin. `count` prints a number per file (or
 * for stdin); `encode` prints the ids as a JSON array; `decode` reads a JSON
 * array of ids and writes the bytes. With --jsonl every input line is one
 * text (a JSON string, or an object with a "text" field) and every output
 * line is that text's count or id array, in order, so one process can
 * handle a million texts. --messages counts a JSON message list the way the
 * provider bills it. The default encoding is o200k_base.
 *
 * --json prints one JSON object for the whole run instead
 * (docs/cli-json.md): {"model", "encoding", "exact", "inputs": [{"file",
 * "tokens"[, "ids" | "text"]}], "total"}; "file" is "-" for stdin. With
 * --jsonl the output already is one JSON value per line, so --json is
 * refused there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agentmem/tokens.h"
#include "cli.h"
#include "commands.h"

typedef enum mode { MODE_COUNT, MODE_ENCODE, MODE_DECODE } mode;

typedef struct tok_cli {
    mode mode;
    bool jsonl;
    bool messages;
    am_encode_opts eopts;
    am_tokenizer *tz;
    am_tokens toks;
    uint32_t *ids; /* decode input */
    size_t ids_count, ids_cap;
    am_buf out;
    am_error err;
    bool json;
    json_t *inputs;   /* --json: one object per input */
    const char *cur;  /* --json: the input being read, "-": stdin */
    size_t total;     /* --json: tokens over every input */
} tok_cli;

/* --json: record the input just processed, with its count and, for
 * encode, its ids or, for decode, its text (the bytes in c->out). */
static am_status add_json_input(tok_cli *c, size_t n)
{
    json_t *o = json_pack("{s:s,s:I}", "file", c->cur, "tokens",
                          (json_int_t)n);
    json_t *extra = NULL;

    if (o == NULL)
        return AM_ENOMEM;
    if (c->mode == MODE_ENCODE) {
        extra = json_array();
        for (size_t i = 0; extra != NULL && i < c->toks.count; i++)
            if (json_array_append_new(extra,
                                      json_integer(c->toks.ids[i])) != 0) {
                json_decref(extra);
                extra = NULL;
            }
    } else if (c->mode == MODE_DECODE) {
        extra = json_stringn(c->out.ptr != NULL ? c->out.ptr : "",
                             c->out.len);
        if (extra == NULL) {
            json_decref(o);
            c->err.code = AM_EFORMAT;
            snprintf(c->err.msg, sizeof c->err.msg,
                     "%s: the decoded bytes are not UTF-8, which JSON "
                     "cannot hold (drop --json to get the raw bytes)",
                     c->cur);
            return AM_EFORMAT;
        }
        am_buf_clear(&c->out);
    }
    /* The _new calls take their value even when they fail. */
    if (c->mode != MODE_COUNT &&
        json_object_set_new(o, c->mode == MODE_ENCODE ? "ids" : "text",
                            extra) != 0) {
        json_decref(o);
        return AM_ENOMEM;
    }
    if (json_array_append_new(c->inputs, o) != 0)
        return AM_ENOMEM;
    c->total += n;
    return AM_OK;
}

/* Append the ids as a JSON array and a newline to `out`. */
static am_status append_ids(am_buf *out, const am_tokens *t)
{
    am_status st = am_buf_reserve(out, t->count * 11 + 4);
    char *p;

    if (st != AM_OK)
        return st;
    p = out->ptr + out->len;
    *p++ = '[';
    for (size_t i = 0; i < t->count; i++) {
        char tmp[10];
        int n = 0;
        uint32_t v = t->ids[i];
        if (i > 0)
            *p++ = ',';
        do {
            tmp[n++] = (char)('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (n > 0)
            *p++ = tmp[--n];
    }
    *p++ = ']';
    *p++ = '\n';
    *p = '\0';
    out->len = (size_t)(p - out->ptr);
    return AM_OK;
}

static am_status flush_out(tok_cli *c, bool force)
{
    if (c->out.len == 0 || (!force && c->out.len < (1u << 16)))
        return AM_OK;
    if (fwrite(c->out.ptr, 1, c->out.len, stdout) != c->out.len) {
        c->err.code = AM_EIO;
        snprintf(c->err.msg, sizeof c->err.msg, "cannot write to stdout");
        return AM_EIO;
    }
    am_buf_clear(&c->out);
    return AM_OK;
}

/* Count or encode one text and append the result line. */
static am_status do_text(tok_cli *c, am_str text)
{
    am_status st;
    size_t n = 0;

    if (c->mode == MODE_COUNT) {
        st = am_tokenizer_count(c->tz, text, &c->eopts, &n, &c->err);
        if (st == AM_OK)
            st = c->json ? add_json_input(c, n)
                         : am_buf_appendf(&c->out, "%zu\n", n);
        return st;
    }
    c->toks.count = 0;
    st = am_tokenizer_encode(c->tz, text, &c->eopts, &c->toks, &c->err);
    if (st == AM_OK)
        st = c->json ? add_json_input(c, c->toks.count)
                     : append_ids(&c->out, &c->toks);
    return st;
}

static am_status do_messages(tok_cli *c, am_str json)
{
    am_status st;
    size_t n = 0;

    st = am_tokenizer_count_messages_json(c->tz, json, &n, &c->err);
    if (st == AM_OK)
        st = c->json ? add_json_input(c, n)
                     : am_buf_appendf(&c->out, "%zu\n", n);
    return st;
}

static am_status do_decode(tok_cli *c, am_str json, const char *what)
{
    json_error_t jerr;
    json_t *arr = json_loadb(json.ptr, json.len, JSON_DECODE_ANY, &jerr);
    am_status st = AM_OK;
    size_t i;
    json_t *v;

    if (arr == NULL || !json_is_array(arr)) {
        json_decref(arr);
        c->err.code = AM_EFORMAT;
        snprintf(c->err.msg, sizeof c->err.msg,
                 "%s: expected a JSON array of token ids", what);
        return AM_EFORMAT;
    }
    c->ids_count = 0;
    json_array_foreach(arr, i, v) {
        json_int_t id = json_integer_value(v);
        if (!json_is_integer(v) || id < 0 || id > (json_int_t)UINT32_MAX) {
            c->err.code = AM_EFORMAT;
            snprintf(c->err.msg, sizeof c->err.msg,
                     "%s: element %zu is not a token id", what, i);
            st = AM_EFORMAT;
            break;
        }
        if (c->ids_count == c->ids_cap) {
            size_t cap = c->ids_cap ? c->ids_cap * 2 : 64;
            uint32_t *p = realloc(c->ids, cap * sizeof *p);
            if (p == NULL) {
                st = AM_ENOMEM;
                break;
            }
            c->ids = p;
            c->ids_cap = cap;
        }
        c->ids[c->ids_count++] = (uint32_t)id;
    }
    json_decref(arr);
    if (st == AM_OK)
        st = am_tokenizer_decode(c->tz, c->ids, c->ids_count, &c->out,
                                 &c->err);
    if (st == AM_OK && c->json)
        st = add_json_input(c, c->ids_count);
    return st;
}

/* --jsonl: one text per line. */
static am_status do_jsonl(tok_cli *c, am_str in)
{
    size_t pos = 0, line = 0;
    am_status st = AM_OK;

    while (pos < in.len) {
        const char *p = in.ptr + pos;
        const char *nl = memchr(p, '\n', in.len - pos);
        size_t n = nl != NULL ? (size_t)(nl - p) : in.len - pos;
        json_error_t jerr;
        json_t *v, *t;

        pos += n + (nl != NULL);
        line++;
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n == 0)
            continue;
        v = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (v == NULL) {
            c->err.code = AM_EFORMAT;
            snprintf(c->err.msg, sizeof c->err.msg,
                     "line %zu: %s (column %d)", line, jerr.text,
                     jerr.column);
            return AM_EFORMAT;
        }
        t = json_is_object(v) ? json_object_get(v, "text") : v;
        if (c->messages && json_is_array(v)) {
            st = do_messages(c, (am_str){ p, n });
        } else if (c->mode == MODE_DECODE) {
            st = do_decode(c, (am_str){ p, n }, "input line");
        } else if (t == NULL || !json_is_string(t)) {
            c->err.code = AM_EFORMAT;
            snprintf(c->err.msg, sizeof c->err.msg,
                     "line %zu: expected a JSON string or an object with a "
                     "string \"text\"", line);
            st = AM_EFORMAT;
        } else {
            st = do_text(c, (am_str){ json_string_value(t),
                                      json_string_length(t) });
        }
        json_decref(v);
        if (st != AM_OK) {
            if (c->err.msg[0] != '\0') {
                char tmp[sizeof c->err.msg + 32];
                snprintf(tmp, sizeof tmp, "line %zu: %s", line, c->err.msg);
                memcpy(c->err.msg, tmp, sizeof c->err.msg - 1);
                c->err.msg[sizeof c->err.msg - 1] = '\0';
            }
            return st;
        }
        st = flush_out(c, false);
        if (st != AM_OK)
            return st;
    }
    return AM_OK;
}

static am_status do_input(tok_cli *c, const char *path)
{
    am_buf in = AM_BUF_INIT;
    am_status st = cli_read_input(path, &in, &c->err);
    am_str text = am_buf_str(&in);

    c->cur = path != NULL ? path : "-";
    if (st == AM_OK) {
        if (c->jsonl)
            st = do_jsonl(c, text);
        else if (c->mode == MODE_DECODE)
            st = do_decode(c, text, path != NULL ? path : "stdin");
        else if (c->messages)
            st = do_messages(c, text);
        else
            st = do_text(c, text);
    }
    if (st == AM_OK)
        st = flush_out(c, true);
    am_buf_free(&in);
    return st;
}

/* --json: {"model", "encoding", "exact", "inputs", "total"}; "model" is
 * null without --model, "encoding" null for a model counted by the
 * catalog's estimate. */
static int print_json(tok_cli *c, const char *model)
{
    const am_encoding *enc = am_tokenizer_encoding(c->tz);
    json_t *o = json_pack("{s:s?,s:s?,s:b,s:O,s:I}",
                          "model", model,
                          "encoding", enc != NULL ? am_encoding_name(enc)
                                                  : NULL,
                          "exact", am_tokenizer_is_exact(c->tz),
                          "inputs", c->inputs,
                          "total", (json_int_t)c->total);
    return cli_print_json(o, "tokens");
}

int cmd_tokens(int argc, char **argv)
{
    tok_cli c;
    const char *encoding = NULL, *model = NULL, *v = NULL;
    const char *files[256];
    int nfiles = 0, rc = CLI_EXIT_OK;
    am_tokenizer_opts topts = am_tokenizer_opts_default();
    am_status st = AM_OK;

    memset(&c, 0, sizeof c);
    if (strcmp(argv[0], "count") == 0)
        c.mode = MODE_COUNT;
    else if (strcmp(argv[0], "encode") == 0)
        c.mode = MODE_ENCODE;
    else if (strcmp(argv[0], "decode") == 0)
        c.mode = MODE_DECODE;
    else
        return cli_usage("tokens", "unknown subcommand '%s' (count, encode "
                         "or decode)", argv[0]);
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--encoding", &v)) {
            if (v == NULL)
                return cli_usage("tokens", "--encoding needs a value");
            encoding = v;
        } else if (cli_opt(argc, argv, &i, "--model", &v)) {
            if (v == NULL)
                return cli_usage("tokens", "--model needs a value");
            model = v;
        } else if (strcmp(argv[i], "--jsonl") == 0) {
            c.jsonl = true;
        } else if (strcmp(argv[i], "--messages") == 0) {
            c.messages = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            c.json = true;
        } else if (strcmp(argv[i], "--allow-special") == 0) {
            c.eopts.flags |= AM_SPECIAL_ALLOW_ALL;
        } else if (strcmp(argv[i], "--disallow-special") == 0) {
            c.eopts.flags |= AM_SPECIAL_DISALLOWED_ERROR;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage("tokens", "unknown option '%s'", argv[i]);
        } else if (nfiles < (int)(sizeof files / sizeof files[0])) {
            files[nfiles++] = argv[i];
        } else {
            return cli_usage("tokens", "too many files");
        }
    }
    if (encoding != NULL && model != NULL)
        return cli_usage("tokens", "give --encoding or --model, not both");
    if (c.messages && c.mode != MODE_COUNT)
        return cli_usage("tokens", "--messages works with 'count' only");
    if (c.json && c.jsonl)
        return cli_usage("tokens", "--jsonl already prints one JSON value "
                         "per line: give --json or --jsonl, not both");
    if (c.json && (c.inputs = json_array()) == NULL)
        return cli_fail(AM_ENOMEM, NULL, "tokens");
    topts.encoding_name = encoding;
    st = am_tokenizer_create(model != NULL ? am_str_c(model)
                                         : am_str_c(NULL),
                           &topts, &c.tz, &c.err);
    if (st != AM_OK)
        return cli_fail(st, &c.err, "tokens");
    /* Batches repeat their words: keep a piece cache across the lines. */
    if (c.jsonl && am_tokenizer_encoding(c.tz) != NULL) {
        st = am_token_cache_create(am_tokenizer_encoding(c.tz), NULL,
                                   &c.eopts.cache, &c.err);
        if (st != AM_OK)
            return cli_fail(st, &c.err, "tokens");
    }
    if (nfiles == 0)
        st = do_input(&c, NULL);
    for (int i = 0; i < nfiles && st == AM_OK; i++)
        st = do_input(&c, files[i]);
    if (st != AM_OK)
        rc = cli_fail(st, &c.err, "tokens");
    else if (c.json)
        rc = print_json(&c, model);
    json_decref(c.inputs);
    free(c.ids);
    am_tokens_free(&c.toks);
    am_buf_free(&c.out);
    am_token_cache_free(c.eopts.cache);
    am_tokenizer_free(c.tz);
    return rc;
}
