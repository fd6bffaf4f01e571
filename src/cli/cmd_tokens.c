/* cmd_tokens.c -- `agentmem tokens count|encode|decode`.
 *
 *   agentmem tokens count  [--encoding E | --model M] [--messages]
 *                          [--jsonl] [--allow-special] [--threads N]
 *                          [FILE...]
 *   agentmem tokens encode [--encoding E | --model M] [--jsonl]
 *                          [--allow-special] [--threads N] [FILE...]
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
#include <unistd.h>

#include <jansson.h>

#include "agentmem/tokens.h"
#include "cli.h"
#include "commands.h"

typedef enum mode { MODE_COUNT, MODE_ENCODE, MODE_DECODE } mode;

typedef struct tok_cli {
    mode mode;
    bool jsonl;
    bool messages;
    size_t threads; /* for batches; 0: one per CPU */
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
    cli_progress pr;  /* on a terminal: bytes of input done (--jsonl, or
                         one input over 1 MiB) */
} tok_cli;

/* --json: record the input just processed, with its count and, for
 * encode, its ids `t` or, for decode, its text (the bytes in c->out). */
static am_status add_json_input(tok_cli *c, size_t n, const am_tokens *t)
{
    json_t *o = json_pack("{s:s,s:I}", "file", c->cur, "tokens",
                          (json_int_t)n);
    json_t *extra = NULL;

    if (o == NULL)
        return AM_ENOMEM;
    if (c->mode == MODE_ENCODE) {
        extra = json_array();
        for (size_t i = 0; extra != NULL && i < t->count; i++)
            if (json_array_append_new(extra,
                                      json_integer(t->ids[i])) != 0) {
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
/* ---- Counting one large input with progress ---- */

#define COUNT_PIECE (1u << 20) /* bytes per count call, about 10 ms */

/* Where the piece of `text` that starts at `from` ends: at the first cut
 * at least COUNT_PIECE bytes on between a '\n' and an ASCII letter or
 * digit, the newline itself following a visible ASCII character, or at
 * the text's end. No pre-token of any tiktoken encoding spans such a cut:
 * after a newline a match continues only with whitespace, more newlines
 * or (o200k's punctuation rule) a '/', and a run of letters or digits
 * never takes a newline in front of it. The character before the newline
 * matters to r50k and p50k, whose `\s+(?!\S)` would end a piece with
 * " \n" as one pre-token where the whole text has " " and "\n" (a count
 * one higher, seen on p50k before this rule). So the pieces' counts add
 * up to the count of the whole text, exactly (test_progress_cli.sh
 * compares both, for three encodings, on text written to break it). */
static size_t piece_end(am_str text, size_t from)
{
    size_t i = from + COUNT_PIECE;

    for (; i < text.len; i++) {
        unsigned char ch = (unsigned char)text.ptr[i];
        unsigned char b2 = (unsigned char)text.ptr[i - 2];
        if (text.ptr[i - 1] == '\n' && b2 > ' ' && b2 < 0x7f &&
            ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
             (ch >= '0' && ch <= '9')))
            return i;
    }
    return text.len;
}

/* Count `text` piece by piece, drawing the bytes done. An exact encoding
 * only: an estimate is one division, and instant. On a failure the whole
 * text is counted again in one call, so that the error names its byte
 * in the whole input rather than in a piece. */
static am_status count_pieces(tok_cli *c, am_str text, size_t *n)
{
    size_t from = 0;
    am_status st = AM_OK;

    *n = 0;
    while (from < text.len && st == AM_OK) {
        size_t end = piece_end(text, from), part = 0;
        st = am_tokenizer_count(c->tz, (am_str){ text.ptr + from,
                                                 end - from },
                                &c->eopts, &part, &c->err);
        *n += part;
        from = end;
        if (st == AM_OK)
            cli_progress_show(&c->pr, from, text.len);
    }
    cli_progress_end(&c->pr);
    if (st != AM_OK)
        st = am_tokenizer_count(c->tz, text, &c->eopts, n, &c->err);
    return st;
}

static am_status do_text(tok_cli *c, am_str text)
{
    am_status st;
    size_t n = 0;

    if (c->mode == MODE_COUNT) {
        /* One large input on a terminal shows how far it got; the lines
         * of --jsonl are counted whole (their progress is per line). */
        if (!c->jsonl && c->pr.on && text.len > COUNT_PIECE &&
            am_tokenizer_is_exact(c->tz))
            st = count_pieces(c, text, &n);
        else
            st = am_tokenizer_count(c->tz, text, &c->eopts, &n, &c->err);
        if (st == AM_OK)
            st = c->json ? add_json_input(c, n, NULL)
                         : am_buf_appendf(&c->out, "%zu\n", n);
        return st;
    }
    c->toks.count = 0;
    st = am_tokenizer_encode(c->tz, text, &c->eopts, &c->toks, &c->err);
    if (st == AM_OK)
        st = c->json ? add_json_input(c, c->toks.count, &c->toks)
                     : append_ids(&c->out, &c->toks);
    return st;
}

static am_status do_messages(tok_cli *c, am_str json)
{
    am_status st;
    size_t n = 0;

    st = am_tokenizer_count_messages_json(c->tz, json, &n, &c->err);
    if (st == AM_OK)
        st = c->json ? add_json_input(c, n, NULL)
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
        st = add_json_input(c, c->ids_count, NULL);
    return st;
}

/* ---- Batches (an exact encoding, count or encode) ---- */

/* Texts parsed from up to this many lines go to one batch call. */
#define BATCH_TEXTS 16384

typedef struct batch_buf {
    am_str texts[BATCH_TEXTS];
    size_t lines[BATCH_TEXTS]; /* input line of each text (0: a file) */
    const char *files[BATCH_TEXTS]; /* the file of each text, for --json */
    json_t *vals[BATCH_TEXTS]; /* what owns each text (NULL: a file) */
    size_t counts[BATCH_TEXTS];
    am_tokens outs[BATCH_TEXTS];
    size_t n;
} batch_buf;

static bool batched(const tok_cli *c)
{
    return am_tokenizer_encoding(c->tz) != NULL && !c->messages &&
           c->mode != MODE_DECODE;
}

/* Prefix the error detail with the input line it is about. */
static void at_line(tok_cli *c, size_t line)
{
    char tmp[sizeof c->err.msg + 32];

    if (c->err.msg[0] == '\0' || line == 0)
        return;
    snprintf(tmp, sizeof tmp, "line %zu: %s", line, c->err.msg);
    memcpy(c->err.msg, tmp, sizeof c->err.msg - 1);
    c->err.msg[sizeof c->err.msg - 1] = '\0';
}

/* Count or encode the pending texts in one batch call and append their
 * result lines in order. Empties the batch either way. */
static am_status run_batch(tok_cli *c, batch_buf *b)
{
    const am_encoding *enc = am_tokenizer_encoding(c->tz);
    am_status st;
    size_t i;

    if (b->n == 0)
        return AM_OK;
    if (c->mode == MODE_COUNT) {
        st = am_encoding_count_batch(enc, b->texts, b->n, &c->eopts,
                                     c->threads, b->counts, NULL);
    } else {
        for (i = 0; i < b->n; i++)
            b->outs[i].count = 0;
        st = am_encoding_encode_batch(enc, b->texts, b->n, &c->eopts,
                                      c->threads, b->outs, NULL);
    }
    if (st != AM_OK) {
        /* Redo one by one: the output stops at the failing text and the
         * error names its line. */
        for (i = 0, st = AM_OK; i < b->n && st == AM_OK; i++) {
            c->cur = b->files[i];
            st = do_text(c, b->texts[i]);
            if (st != AM_OK)
                at_line(c, b->lines[i]);
            else
                st = flush_out(c, false);
        }
    } else {
        for (i = 0; i < b->n && st == AM_OK; i++) {
            c->cur = b->files[i];
            if (c->json)
                st = add_json_input(c, c->mode == MODE_COUNT
                                           ? b->counts[i] : b->outs[i].count,
                                    &b->outs[i]);
            else if (c->mode == MODE_COUNT)
                st = am_buf_appendf(&c->out, "%zu\n", b->counts[i]);
            else
                st = append_ids(&c->out, &b->outs[i]);
            if (st == AM_OK)
                st = flush_out(c, false);
        }
    }
    for (i = 0; i < b->n; i++)
        json_decref(b->vals[i]);
    b->n = 0;
    return st;
}

static void batch_free(batch_buf *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        json_decref(b->vals[i]);
    for (size_t i = 0; i < BATCH_TEXTS; i++)
        am_tokens_free(&b->outs[i]);
    free(b);
}

static batch_buf *batch_new(tok_cli *c)
{
    batch_buf *b = calloc(1, sizeof *b);

    if (b == NULL) {
        c->err.code = AM_ENOMEM;
        snprintf(c->err.msg, sizeof c->err.msg, "out of memory");
    }
    return b;
}

/* --jsonl: one text per line. With `b` (see batched()) the texts are
 * collected and handled BATCH_TEXTS at a time. */
/* Whether a --jsonl line holds a JSON array: its first byte that is not
 * JSON white space is '['. */
static bool is_array_line(const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
        i++;
    return i < n && p[i] == '[';
}

static am_status do_jsonl(tok_cli *c, am_str in, batch_buf *b)
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
        if (c->messages && is_array_line(p, n)) {
            /* A message list goes to the message reader as it is: parsed
             * once, its errors naming the message and the byte. (There is
             * no batch with --messages.) */
            st = do_messages(c, (am_str){ p, n });
            if (st != AM_OK) {
                at_line(c, line);
                return st;
            }
            if ((st = flush_out(c, false)) != AM_OK)
                return st;
            continue;
        }
        v = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (v == NULL) {
            /* The lines before it are answered first, as without
             * batches. */
            st = b != NULL ? run_batch(c, b) : AM_OK;
            if (st != AM_OK)
                return st;
            c->err.code = AM_EFORMAT;
            snprintf(c->err.msg, sizeof c->err.msg,
                     "line %zu: %s (column %d)", line, jerr.text,
                     jerr.column);
            return AM_EFORMAT;
        }
        t = json_is_object(v) ? json_object_get(v, "text") : v;
        if (c->mode == MODE_DECODE) {
            st = do_decode(c, (am_str){ p, n }, "input line");
        } else if (t == NULL || !json_is_string(t)) {
            st = b != NULL ? run_batch(c, b) : AM_OK;
            if (st == AM_OK) {
                c->err.code = AM_EFORMAT;
                snprintf(c->err.msg, sizeof c->err.msg,
                         "line %zu: expected a JSON string or an object "
                         "with a string \"text\"", line);
                st = AM_EFORMAT;
            }
            json_decref(v);
            return st;
        } else if (b != NULL) {
            /* `v` owns the text until the batch has run. */
            b->texts[b->n] = (am_str){ json_string_value(t),
                                       json_string_length(t) };
            b->lines[b->n] = line;
            b->files[b->n] = c->cur;
            b->vals[b->n++] = v;
            if (b->n == BATCH_TEXTS) {
                if ((st = run_batch(c, b)) != AM_OK)
                    return st;
                cli_progress_show(&c->pr, pos, in.len);
            }
            continue;
        } else {
            st = do_text(c, (am_str){ json_string_value(t),
                                      json_string_length(t) });
        }
        json_decref(v);
        if (st != AM_OK) {
            at_line(c, line);
            return st;
        }
        st = flush_out(c, false);
        if (st != AM_OK)
            return st;
    }
    st = b != NULL ? run_batch(c, b) : AM_OK;
    if (st == AM_OK && c->pr.shown) /* only a long input drew a line */
        cli_progress_show(&c->pr, in.len, in.len);
    cli_progress_end(&c->pr);
    return st;
}

static am_status do_input(tok_cli *c, const char *path, batch_buf *b)
{
    am_buf in = AM_BUF_INIT;
    am_status st = cli_read_input(path, &in, &c->err);
    am_str text = am_buf_str(&in);

    c->cur = path != NULL ? path : "-";
    if (st == AM_OK) {
        if (c->jsonl)
            st = do_jsonl(c, text, b);
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

/* Several files, without --jsonl: read them all, then one batch. A file
 * that cannot be read stops the run after the ones before it are
 * answered, as without batches. */
static am_status do_files(tok_cli *c, const char **files, int nfiles,
                          batch_buf *b)
{
    am_buf in[256];
    am_status st = AM_OK;
    int k;

    for (k = 0; k < nfiles; k++)
        in[k] = (am_buf)AM_BUF_INIT;
    for (k = 0; k < nfiles && st == AM_OK; k++) {
        st = cli_read_input(files[k], &in[k], &c->err);
        if (st != AM_OK)
            break;
        b->texts[b->n] = am_buf_str(&in[k]);
        b->lines[b->n] = 0;
        b->files[b->n] = files[k];
        b->vals[b->n++] = NULL;
    }
    if (st == AM_OK) {
        st = run_batch(c, b);
    } else {
        am_error read_err = c->err;
        am_status read_st = st;
        st = run_batch(c, b);
        if (st == AM_OK)
            st = flush_out(c, true);
        if (st == AM_OK) {
            c->err = read_err;
            st = read_st;
        }
    }
    if (st == AM_OK)
        st = flush_out(c, true);
    for (k = 0; k < nfiles; k++)
        am_buf_free(&in[k]);
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

/* ---- The command table ---- */

/* The subcommands differ only in their mode; run_tokens does the work. */
typedef struct tok_run {
    int argc;
    char **argv;
} tok_run;

static int run_tokens(mode m, int argc, char **argv);

static int tk_count(void *ctx)
{
    tok_run *x = ctx;
    return run_tokens(MODE_COUNT, x->argc, x->argv);
}

static int tk_encode(void *ctx)
{
    tok_run *x = ctx;
    return run_tokens(MODE_ENCODE, x->argc, x->argv);
}

static int tk_decode(void *ctx)
{
    tok_run *x = ctx;
    return run_tokens(MODE_DECODE, x->argc, x->argv);
}

static const cli_sub tokens_subs[] = {
    { "count", tk_count, 0, "[FILE...]",
      "the number of tokens of each FILE (default stdin)" },
    { "encode", tk_encode, 0, "[FILE...]",
      "the token ids of each FILE, as a JSON array" },
    { "decode", tk_decode, 0, "[FILE...]",
      "the bytes of a JSON array of token ids" },
};

static const cli_flag tokens_flags[] = {
    { "--encoding", "E", "o200k_base (default), cl100k_base, p50k_base or "
                         "r50k_base" },
    { "--model", "M", "count as model M does (its encoding, or the "
                      "catalog's estimate for a model without one)" },
    { "--jsonl", NULL, "every input line is one text (a JSON string or an "
                       "object with \"text\"); one result line each" },
    { "--messages", NULL, "count: the input is a JSON message list, "
                          "counted as the provider bills it" },
    { "--allow-special", NULL, "encode special tokens such as "
                               "<|endoftext|> as themselves" },
    { "--disallow-special", NULL, "fail on special-token text instead of "
                                  "encoding it as plain text" },
    { "--threads", "N", "--jsonl: threads for the batches, 0..256 (0: one "
                        "per CPU)" },
    { "--json", NULL, "print one JSON object for the whole run "
                      "(docs/cli-json.md)" },
    { "--quiet", NULL, "no progress line, shown when stderr is a terminal "
                       "for --jsonl (if stdout is not) and for a count of "
                       "one input over 1 MiB" },
};

static const char *const tokens_examples[] = {
    "echo 'hello world' | agentmem tokens count --model gpt-4o",
    "agentmem tokens count --messages --json examples/msg/openai.json",
    "agentmem tokens encode --encoding cl100k_base --jsonl "
    "examples/tokens/texts.jsonl",
    NULL
};

const cli_group tokens_group = { tokens_subs, CLI_COUNT(tokens_subs),
                                 tokens_flags, CLI_COUNT(tokens_flags),
                                 tokens_examples };

int cmd_tokens(int argc, char **argv)
{
    const cli_sub *sub = NULL;
    tok_run x = { argc, argv };
    int rc = cli_sub_check("tokens", &tokens_group, argv[0], argc - 1, &sub);

    return rc != CLI_EXIT_OK ? rc : sub->run(&x);
}

/* argv[0] is the subcommand's name, as the loop below expects. */
static int run_tokens(mode m, int argc, char **argv)
{
    tok_cli c;
    const char *encoding = NULL, *model = NULL, *v = NULL;
    const char *files[256];
    int nfiles = 0, rc = CLI_EXIT_OK;
    am_tokenizer_opts topts = am_tokenizer_opts_default();
    batch_buf *batch = NULL;
    am_status st = AM_OK;
    bool quiet = false;

    memset(&c, 0, sizeof c);
    c.mode = m;
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
        } else if (strcmp(argv[i], "--quiet") == 0) {
            quiet = true;
        } else if (cli_opt(argc, argv, &i, "--threads", &v)) {
            if (!cli_parse_size("tokens", "--threads", v, 256, &c.threads))
                return CLI_EXIT_USAGE;
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
    /* --jsonl results stream to stdout: on the same terminal a progress
     * line would be torn by them, so it is only for output sent
     * elsewhere. A count prints its result after its progress ended. */
    cli_progress_init(&c.pr, m == MODE_COUNT ? "counting" : "encoding",
                      "bytes",
                      quiet || (c.jsonl && isatty(STDOUT_FILENO)));
    if (c.json && (c.inputs = json_array()) == NULL)
        return cli_fail(AM_ENOMEM, NULL, "tokens");
    topts.encoding_name = encoding;
    st = am_tokenizer_create(model != NULL ? am_str_c(model)
                                         : am_str_c(NULL),
                           &topts, &c.tz, &c.err);
    if (st != AM_OK)
        return cli_fail(st, &c.err, "tokens");
    /* A count for a model without a tokenizer is an estimate: say so, and
     * by which rule, rather than print a figure that looks exact. */
    if (model != NULL && !am_tokenizer_is_exact(c.tz)) {
        am_model_info mi;
        am_tokenizer_model(c.tz, &mi);
        fprintf(stderr, "agentmem tokens: estimating: %s '%s' has no exact "
                "tokenizer, counting %.1f characters per token%s\n",
                mi.known ? "model" : "unknown model", model,
                mi.chars_per_token,
                mi.known ? "" : " (the rule for models not in the catalog; "
                                "see 'agentmem models')");
    }
    /* Batches repeat their words: keep a piece cache across the lines. */
    if (c.jsonl && am_tokenizer_encoding(c.tz) != NULL) {
        st = am_token_cache_create(am_tokenizer_encoding(c.tz), NULL,
                                   &c.eopts.cache, &c.err);
        if (st != AM_OK)
            return cli_fail(st, &c.err, "tokens");
    }
    /* An exact encoding counts or encodes several files, or the lines of
     * --jsonl, in batches on c.threads threads. */
    if (batched(&c) && (c.jsonl || nfiles > 1) &&
        (batch = batch_new(&c)) == NULL)
        st = AM_ENOMEM;
    else if (batch != NULL && !c.jsonl)
        st = do_files(&c, files, nfiles, batch);
    else if (nfiles == 0)
        st = do_input(&c, NULL, batch);
    for (int i = 0; i < nfiles && st == AM_OK && (c.jsonl || batch == NULL);
         i++)
        st = do_input(&c, files[i], batch);
    batch_free(batch);
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
