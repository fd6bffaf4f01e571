/* recall.c -- index finished conversations in chunks; search them; the
 * recall tool for OpenAI and Anthropic models.
 *
 * A chunk is stored as an ordinary item in ("recall", user, session) with
 * key "chunk-NNNNNN": value {"session_id", "text", "summary", "first",
 * "last"}, indexed text = summary + text, metadata = the caller's meta
 * (plus, with am_recall_opts.names_field, the chunk's names). Re-indexing
 * a session first removes its old chunks. Because the user id is a
 * namespace part, the store's namespace encoding is what keeps users
 * apart.
 */
#include <string.h>

#include "agentmem/msg.h"
#include "agentmem/recall.h"
#include "core/json_glue.h"
#include "store_int.h"

am_recall_opts am_recall_opts_default(void)
{
    am_recall_opts o;
    memset(&o, 0, sizeof o);
    /* The seed's defaults (ConversationMemory: 10 messages, 2 shared).
     * No measurement here argues for another size. */
    o.chunk_size = 10;
    o.chunk_overlap = 2;
    return o;
}

/* Append message `m`'s line, "role: text", to `out`. The text is
 * am_msg_text's, the one rendering of a message as text that counting,
 * summaries and the store share, so `m` becomes an am_msg first. That
 * step is lenient on purpose, since recall has always taken more than the
 * message readers do: any role spelling (written as given; an unknown one
 * makes a user message, as the role is not part of the text), content of
 * any type (a string, or parts of which only the "text" fields count;
 * anything else adds nothing) and no size limit. */
static am_status append_line(am_store *s, json_t *m, am_buf *out)
{
    json_t *role = json_object_get(m, "role");
    json_t *c = json_object_get(m, "content");
    am_msg_opts mo = am_msg_opts_default();
    am_msg *msg = NULL;
    am_role r;
    am_status st;

    mo.alloc = s->alloc;
    mo.clock = s->clock;
    mo.max_bytes = 0;
    if (am_role_parse(am__json_str(role), &r, NULL) != AM_OK)
        r = AM_ROLE_USER;
    st = json_is_string(c) ? am_msg_create_text(&mo, r, am__json_str(c),
                                                &msg, &AM__ERR(s))
                           : am_msg_create(&mo, r, &msg, &AM__ERR(s));
    if (json_is_array(c)) {
        size_t i;
        json_t *part;
        json_array_foreach(c, i, part) {
            json_t *t = json_object_get(part, "text");
            if (st != AM_OK)
                break;
            if (json_is_string(t) && json_string_length(t) > 0) {
                am_part p;
                memset(&p, 0, sizeof p);
                p.type = AM_PART_TEXT;
                p.text = am__json_str(t);
                st = am_msg_add_part(msg, &p, &AM__ERR(s));
            }
        }
    }
    if (st == AM_OK)
        st = am_buf_appendf(out, "%s: ", json_string_value(role));
    if (st == AM_OK)
        st = am_msg_text(msg, out);
    am_msg_free(msg);
    return st;
}

/* Parse `messages` into *out: an array of objects, each with a string
 * "role" and a "content". */
static am_status parse_messages(am_store *s, am_str messages, json_t **out)
{
    json_t *arr = NULL;
    am_status st = am__json_parse(messages, "recall index: messages", &arr,
                                  &AM__ERR(s));
    if (st != AM_OK)
        return st;
    if (!json_is_array(arr)) {
        json_decref(arr);
        return am__fail(&AM__ERR(s), AM_EFORMAT,
                        "recall index: messages must be a JSON array");
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *m = json_array_get(arr, i);
        if (!json_is_string(json_object_get(m, "role")) ||
            json_object_get(m, "content") == NULL) {
            json_decref(arr);
            return am__fail(&AM__ERR(s), AM_EFORMAT,
                            "recall index: message %zu needs a string "
                            "'role' and a 'content'", i);
        }
    }
    *out = arr;
    return AM_OK;
}

/* One chunk being built: its text, summary, stored value and the text
 * the store indexes (summary, then text). Reused from chunk to chunk. */
typedef struct chunk_bufs {
    am_buf text, summary, value, itext;
} chunk_bufs;

/* Build chunk number `made`, messages [first, last) of `arr`, into `b`. */
static am_status build_chunk(am_store *s, json_t *arr, size_t first,
                             size_t last, size_t made, am_str session_id,
                             const am_recall_opts *o, chunk_bufs *b)
{
    am_status st = AM_OK;
    json_t *v;

    am_buf_clear(&b->text);
    am_buf_clear(&b->summary);
    for (size_t i = first; i < last && st == AM_OK; i++) {
        if (b->text.len > 0)
            st = am_buf_append(&b->text, "\n", 1);
        if (st == AM_OK)
            st = append_line(s, json_array_get(arr, i), &b->text);
    }
    if (st == AM_OK && o->summarize != NULL)
        st = o->summarize(o->summarize_ctx, am_buf_str(&b->text), &b->summary,
                          &AM__ERR(s));
    if (st != AM_OK)
        return st;
    v = json_pack("{s:s%,s:s%,s:s%,s:I,s:I}", "session_id", session_id.ptr,
                  session_id.len, "text", am_buf_str(&b->text).ptr,
                  b->text.len, "summary", am_buf_str(&b->summary).ptr,
                  b->summary.len, "first", (json_int_t)first, "last",
                  (json_int_t)(last - 1));
    if (v == NULL) {
        /* json_pack fails on invalid UTF-8 and when jansson runs out of
         * memory: tell them apart. */
        if (am__utf8_valid(session_id.ptr, session_id.len, NULL) &&
            am__utf8_valid(b->text.ptr, b->text.len, NULL) &&
            am__utf8_valid(b->summary.ptr, b->summary.len, NULL))
            return am__fail(&AM__ERR(s), AM_ENOMEM,
                            "recall index: out of memory");
        return am__fail(&AM__ERR(s), AM_EFORMAT,
                        "recall index: chunk %zu is not valid UTF-8", made);
    }
    st = am__json_dump(v, JSON_COMPACT, &b->value, &AM__ERR(s));
    json_decref(v);
    am_buf_clear(&b->itext);
    if (st == AM_OK && b->summary.len > 0)
        st = am_buf_appendf(&b->itext, "%s\n", b->summary.ptr);
    if (st == AM_OK)
        st = am_buf_append(&b->itext, am_buf_str(&b->text).ptr, b->text.len);
    return st;
}

/* With a names field, every chunk's metadata is `meta` with that field
 * set to the chunk's names: `meta` (or {}) without the field, its closing
 * brace cut, then the field's key and a colon, into `prefix`; a chunk's
 * metadata is the prefix, its names array and "}". One parse for the
 * whole conversation, none per chunk. */
static am_status names_prefix(am_store *s, am_str meta, am_str field,
                              am_buf *prefix)
{
    json_t *m = NULL, *key = NULL;
    am_status st = AM_OK;

    if (!am__utf8_valid(field.ptr, field.len, NULL))
        return am__fail(&AM__ERR(s), AM_EINVAL,
                        "recall index: names_field is not valid UTF-8");
    if (meta.len > 0) {
        st = am__json_parse(meta, "recall index: meta", &m, &AM__ERR(s));
        if (st != AM_OK)
            return st;
        if (!json_is_object(m)) {
            json_decref(m);
            return am__fail(&AM__ERR(s), AM_EFORMAT,
                            "recall index: meta must be a JSON object to "
                            "add names_field to");
        }
    } else if ((m = json_object()) == NULL) {
        return am__fail(&AM__ERR(s), AM_ENOMEM, "recall index: out of "
                        "memory");
    }
    /* json_object_deln wants a NUL-free key; one with a NUL cannot be in
     * a parsed object either, so there is nothing to remove then. */
    if (memchr(field.ptr, '\0', field.len) == NULL) {
        char *k = am__strndup(s->alloc, field.ptr, field.len);
        if (k == NULL) {
            json_decref(m);
            return am__fail(&AM__ERR(s), AM_ENOMEM, "recall index: out of "
                            "memory");
        }
        json_object_del(m, k);
        am__free(s->alloc, k, field.len + 1);
    }
    key = json_stringn(field.ptr, field.len);
    if (key == NULL)
        st = am__fail(&AM__ERR(s), AM_ENOMEM, "recall index: out of memory");
    if (st == AM_OK)
        st = am__json_dump(m, JSON_COMPACT, prefix, &AM__ERR(s));
    if (st == AM_OK) {
        prefix->ptr[--prefix->len] = '\0'; /* the closing brace */
        if (json_object_size(m) > 0)
            st = am_buf_append(prefix, ",", 1);
    }
    if (st == AM_OK)
        st = am__json_dump_append(key, JSON_COMPACT | JSON_ENCODE_ANY,
                                  prefix, &AM__ERR(s));
    if (st == AM_OK)
        st = am_buf_append(prefix, ":", 1);
    json_decref(m);
    json_decref(key);
    return st;
}

am_status am_recall_index(am_store *s, am_str user_id, am_str session_id,
                          am_str messages, const am_recall_opts *opts,
                          size_t *chunks)
{
    am_recall_opts o = opts != NULL ? *opts : am_recall_opts_default();
    json_t *arr = NULL;
    am_status st;
    chunk_bufs bufs;
    size_t n, made = 0;

    if (s == NULL)
        return AM_EINVAL;
    /* Everything is allocated with the store's allocator (the buffers
     * start empty, as AM_BUF_INIT makes them). */
    memset(&bufs, 0, sizeof bufs);
    bufs.text.alloc = bufs.summary.alloc = s->alloc;
    bufs.value.alloc = bufs.itext.alloc = s->alloc;
    if (chunks != NULL)
        *chunks = 0;
    if (user_id.len == 0 || session_id.len == 0)
        return am__fail(&AM__ERR(s), AM_EINVAL,
                        "recall index: empty user or session id");
    if (o.chunk_size == 0)
        o.chunk_size = 10;
    if (o.chunk_overlap >= o.chunk_size)
        return am__fail(&AM__ERR(s), AM_EINVAL,
                        "recall index: chunk_overlap %zu must be below "
                        "chunk_size %zu", o.chunk_overlap, o.chunk_size);
    am_buf prefix = AM_BUF_INIT, names = AM_BUF_INIT, metas = AM_BUF_INIT;
    prefix.alloc = names.alloc = metas.alloc = s->alloc;
    if (o.names_field.len > 0) {
        st = names_prefix(s, o.meta, o.names_field, &prefix);
        if (st != AM_OK) {
            am_buf_free(&prefix);
            return st;
        }
    }
    st = parse_messages(s, messages, &arr);
    if (st != AM_OK) {
        am_buf_free(&prefix);
        return st;
    }
    n = json_array_size(arr);
    am_str parts[3] = { AM_STR("recall"), user_id, session_id };
    am_ns ns = { parts, 3 };
    /* Build every chunk first (the summarizer may fail: then the old index
     * stays), then replace the session's chunks with one batched put. */
    am_buf values = AM_BUF_INIT, texts = AM_BUF_INIT;
    values.alloc = texts.alloc = s->alloc;
    /* Chunk i is values [off[i].v, off[i + 1].v), texts and metas
     * likewise; one array, so a failed grow leaves one block of a known
     * size. */
    struct {
        size_t v, t, m;
    } *off = NULL;
    size_t cap = 0;
    am_item_in *items = NULL;
    char (*keys)[32] = NULL;
    size_t step = o.chunk_size - o.chunk_overlap;
    for (size_t first = 0; st == AM_OK && first < n; first += step) {
        size_t last = first + o.chunk_size;
        if (last > n)
            last = n;
        st = build_chunk(s, arr, first, last, made, session_id, &o, &bufs);
        /* Keep chunk `made`: offsets into the two pools (+1 for the end). */
        if (st == AM_OK &&
            am__grow(s->alloc, (void **)&off, &cap, made + 2, sizeof *off) !=
                AM_OK)
            st = AM_ENOMEM; /* the message is set below */
        if (st == AM_OK) {
            off[made].v = values.len;
            off[made].t = texts.len;
            off[made].m = metas.len;
            st = am_buf_append(&values, bufs.value.ptr, bufs.value.len);
        }
        if (st == AM_OK)
            st = am_buf_append(&texts, am_buf_str(&bufs.itext).ptr,
                               bufs.itext.len);
        /* The names of the messages' own text, not of the summary: the
         * bonus is for what was said. */
        if (st == AM_OK && o.names_field.len > 0)
            st = am_text_names(am_buf_str(&bufs.text), NULL, 0, &names,
                               &AM__ERR(s));
        if (st == AM_OK && o.names_field.len > 0)
            st = am_buf_append(&metas, prefix.ptr, prefix.len);
        if (st == AM_OK && o.names_field.len > 0)
            st = am_buf_append(&metas, names.ptr, names.len);
        if (st == AM_OK && o.names_field.len > 0)
            st = am_buf_append(&metas, "}", 1);
        if (st != AM_OK)
            break;
        made++;
        off[made].v = values.len;
        off[made].t = texts.len;
        off[made].m = metas.len;
        if (last == n)
            break;
    }
    if (st == AM_OK && made > 0) {
        items = am__calloc(s->alloc, made, sizeof *items);
        keys = am__calloc(s->alloc, made, sizeof *keys);
        if (items == NULL || keys == NULL)
            st = AM_ENOMEM;
        for (size_t i = 0; st == AM_OK && i < made; i++) {
            snprintf(keys[i], sizeof keys[i], "chunk-%06zu", i);
            items[i].ns = ns;
            items[i].key = am_str_c(keys[i]);
            items[i].value = (am_str){ values.ptr + off[i].v,
                                       off[i + 1].v - off[i].v };
            items[i].meta = o.names_field.len > 0
                                ? (am_str){ metas.ptr + off[i].m,
                                            off[i + 1].m - off[i].m }
                                : o.meta;
            items[i].text = (am_str){ texts.ptr + off[i].t,
                                      off[i + 1].t - off[i].t };
        }
    }
    if (st == AM_OK) {
        /* The old chunks go and the new ones come in one transaction. */
        am__write w;
        memset(&w, 0, sizeof w);
        w.clear = ns;
        w.puts = items;
        w.nput = made;
        st = am__store_write(s, &w);
    }
    json_decref(arr);
    am_buf_free(&bufs.text);
    am_buf_free(&bufs.summary);
    am_buf_free(&bufs.value);
    am_buf_free(&bufs.itext);
    am_buf_free(&values);
    am_buf_free(&texts);
    am_buf_free(&prefix);
    am_buf_free(&names);
    am_buf_free(&metas);
    am__free(s->alloc, off, cap * sizeof *off);
    am__free(s->alloc, items, made * sizeof *items);
    am__free(s->alloc, keys, made * sizeof *keys);
    if (st == AM_ENOMEM)
        am__fail(&AM__ERR(s), st, "recall index: out of memory");
    if (st == AM_OK && chunks != NULL)
        *chunks = made;
    return st;
}

static am_status search_json(am_store *s, am_str user_id, am_str query,
                             const am_recall_search_opts *o, json_t **out)
{
    am_str parts[2] = { AM_STR("recall"), user_id };
    am_search q;
    am_results *r = NULL;
    am_status st;

    *out = NULL;
    if (user_id.len == 0)
        return am__fail(&AM__ERR(s), AM_EINVAL, "recall search: empty user id");
    /* recall.h promises this; the store's search would take 1.5 and find
     * nothing, which hides the caller's mistake. NaN fails too. */
    if (!(o->min_score >= 0 && o->min_score <= 1))
        return am__fail(&AM__ERR(s), AM_EINVAL, "recall search: min_score "
                        "%g is outside [0, 1]", o->min_score);
    memset(&q, 0, sizeof q);
    q.ns = (am_ns){ parts, 2 };
    q.query = query;
    q.limit = o->limit > 0 ? o->limit : 5;
    q.min_score = o->min_score;
    q.names_field = o->names_field;
    q.names_bonus = o->names_bonus;
    st = am_store_search(s, &q, &r);
    if (st != AM_OK)
        return st;
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < r->count; i++) {
        json_t *v = NULL;
        am_error perr = { AM_OK, "" };
        /* A value jansson cannot parse for want of memory is no reason to
         * leave a hit out: that is AM_ENOMEM for the whole search. */
        if (am__json_parse(r->items[i].value, "recall hit", &v, &perr) ==
            AM_ENOMEM) {
            json_decref(arr);
            arr = NULL;
            break;
        }
        if (!json_is_object(v)) {
            json_decref(v);
            continue;
        }
        /* The chunk's metadata (the index call's `meta`), {} when none. */
        json_t *meta = NULL;
        st = r->items[i].meta.len > 0
                 ? am__json_parse(r->items[i].meta, "recall hit metadata",
                                  &meta, &perr)
                 : AM_OK;
        if (st == AM_ENOMEM) {
            json_decref(v);
            json_decref(arr);
            arr = NULL;
            break;
        }
        if (!json_is_object(meta)) {
            json_decref(meta);
            meta = json_object();
        }
        if (meta == NULL || json_object_set_new(v, "metadata", meta) != 0) {
            json_decref(v);
            json_decref(arr);
            arr = NULL;
            break;
        }
        /* -1 from jansson is out of memory: no half-filled answer. (A
         * failed append frees v; a failed set frees only the value it was
         * given, not the object v.) */
        if (json_object_set_new(v, "score", json_real(r->items[i].score)) !=
            0) {
            json_decref(v);
            json_decref(arr);
            arr = NULL;
        } else if (json_array_append_new(arr, v) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    am_results_free(r);
    if (arr == NULL)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "recall search: out of memory");
    *out = arr;
    return AM_OK;
}

am_recall_search_opts am_recall_search_opts_default(void)
{
    am_recall_search_opts o;
    memset(&o, 0, sizeof o);
    o.limit = 5;
    return o;
}

am_status am_recall_search(am_store *s, am_str user_id, am_str query,
                           const am_recall_search_opts *opts, am_buf *out)
{
    am_recall_search_opts o = opts != NULL ? *opts
                                           : am_recall_search_opts_default();
    json_t *arr;
    if (s == NULL || out == NULL)
        return AM_EINVAL;
    am_status st = search_json(s, user_id, query, &o, &arr);
    if (st == AM_OK)
        st = am__json_dump(arr, JSON_COMPACT, out, &AM__ERR(s));
    json_decref(arr);
    return st;
}

/* ---- The recall tool ---- */

#define TOOL_NAME "recall_conversations"
#define TOOL_DESC                                                         \
    "Search the user's past conversations with you. Use it when the user " \
    "refers to something discussed before, or when earlier context would " \
    "help. Returns the most relevant conversation excerpts."
#define TOOL_LIMIT 5
#define TOOL_MAX_LIMIT 20

am_recall_tool_opts am_recall_tool_opts_default(void)
{
    am_recall_tool_opts o;
    o.name = AM_STR(TOOL_NAME);
    o.description = AM_STR(TOOL_DESC);
    o.limit = TOOL_LIMIT;
    o.min_score = AM_SEARCH_MIN_SCORE;
    o.names_field = (am_str){ NULL, 0 };
    o.names_bonus = 0;
    return o;
}

/* Fill the defaults into `o` and check it. OpenAI and Anthropic both
 * accept tool names of 1..64 letters, digits, '_' and '-'. */
static am_status tool_opts(const am_recall_tool_opts *in,
                           am_recall_tool_opts *o, am_error *err)
{
    *o = in != NULL ? *in : am_recall_tool_opts_default();
    if (o->name.len == 0)
        o->name = AM_STR(TOOL_NAME);
    if (o->description.len == 0)
        o->description = AM_STR(TOOL_DESC);
    if (o->limit == 0)
        o->limit = TOOL_LIMIT;
    if (o->min_score == 0)
        o->min_score = AM_SEARCH_MIN_SCORE;
    else if (o->min_score < 0)
        o->min_score = 0;
    if (!(o->min_score <= 1)) /* also NaN */
        return am__fail(err, AM_EINVAL,
                        "recall tool: min_score %g is above 1 (scores are "
                        "in [0, 1])", o->min_score);
    if (!(o->names_bonus >= 0 && o->names_bonus <= 1))
        return am__fail(err, AM_EINVAL,
                        "recall tool: names_bonus %g is outside [0, 1]",
                        o->names_bonus);
    if (o->names_bonus > 0 && o->names_field.len == 0)
        return am__fail(err, AM_EINVAL, "recall tool: names_bonus %g needs "
                        "names_field (the index's am_recall_opts."
                        "names_field)", o->names_bonus);
    if (o->name.len > 64)
        return am__fail(err, AM_EINVAL,
                        "recall tool: name is %zu bytes (at most 64)",
                        o->name.len);
    for (size_t i = 0; i < o->name.len; i++) {
        char c = o->name.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return am__fail(err, AM_EINVAL,
                            "recall tool: name byte %zu is not a letter, "
                            "digit, '_' or '-'", i);
    }
    if (!am__utf8_valid(o->description.ptr, o->description.len, NULL))
        return am__fail(err, AM_EINVAL,
                        "recall tool: description is not valid UTF-8");
    if (o->limit > TOOL_MAX_LIMIT)
        return am__fail(err, AM_EINVAL,
                        "recall tool: limit %zu is above the maximum %d",
                        o->limit, TOOL_MAX_LIMIT);
    return AM_OK;
}

static json_t *tool_params(size_t limit)
{
    char desc[64];
    snprintf(desc, sizeof desc, "How many excerpts to return (default %zu)",
             limit);
    return json_pack("{s:s,s:{s:{s:s,s:s},s:{s:s,s:s,s:i,s:i}},s:[s]}",
                     "type", "object", "properties", "query", "type",
                     "string", "description",
                     "What to look for, in natural language", "limit",
                     "type", "integer", "description", desc, "minimum", 1,
                     "maximum", TOOL_MAX_LIMIT, "required", "query");
}

am_status am_recall_tool_def(am_tool_format fmt,
                             const am_recall_tool_opts *opts, am_buf *out,
                             am_error *err)
{
    am_recall_tool_opts o;
    json_t *def;
    am_status st;
    if (out == NULL)
        return am__fail(err, AM_EINVAL, "recall tool: NULL output buffer");
    st = tool_opts(opts, &o, err);
    if (st != AM_OK)
        return st;
    if (fmt == AM_TOOL_OPENAI)
        def = json_pack("{s:s,s:{s:s%,s:s%,s:o}}", "type", "function",
                        "function", "name", o.name.ptr, o.name.len,
                        "description", o.description.ptr,
                        o.description.len, "parameters",
                        tool_params(o.limit));
    else if (fmt == AM_TOOL_ANTHROPIC)
        def = json_pack("{s:s%,s:s%,s:o}", "name", o.name.ptr, o.name.len,
                        "description", o.description.ptr,
                        o.description.len, "input_schema",
                        tool_params(o.limit));
    else
        return am__fail(err, AM_EINVAL, "recall tool: unknown format %d",
                        (int)fmt);
    if (def == NULL)
        return am__fail(err, AM_ENOMEM, "recall tool: out of memory");
    st = am__json_dump(def, JSON_COMPACT, out, err);
    json_decref(def);
    return st;
}

/* The result text the model reads. */
static am_status render(json_t *hits, am_buf *text)
{
    size_t n = json_array_size(hits), i;
    json_t *h;
    am_status st;
    am_buf_clear(text);
    if (n == 0) {
        /* Nothing scored min_score: say so rather than fill the model's
         * context with excerpts that have nothing to do with the query. */
        static const char none[] = "No relevant past conversations found.";
        return am_buf_append(text, none, sizeof none - 1);
    }
    st = am_buf_appendf(text, "Found %zu relevant excerpt%s from past "
                              "conversations:", n, n == 1 ? "" : "s");
    json_array_foreach(hits, i, h) {
        if (st != AM_OK)
            break;
        const char *sum = json_string_value(json_object_get(h, "summary"));
        st = am_buf_appendf(text, "\n\n[%zu] session %s (score %.3f)\n", i + 1,
                            json_string_value(json_object_get(h, "session_id")),
                            json_real_value(json_object_get(h, "score")));
        json_t *meta = json_object_get(h, "metadata");
        if (st == AM_OK && json_object_size(meta) > 0)
            st = am_buf_append(text, "Metadata: ", 10);
        if (st == AM_OK && json_object_size(meta) > 0)
            st = am__json_dump_append(meta, JSON_COMPACT, text, NULL);
        if (st == AM_OK && json_object_size(meta) > 0)
            st = am_buf_append(text, "\n", 1);
        if (st == AM_OK && sum != NULL && sum[0] != '\0')
            st = am_buf_appendf(text, "Summary: %s\nExcerpt:\n", sum);
        if (st == AM_OK)
            st = am_buf_appendf(text, "%s", json_string_value(
                                                json_object_get(h, "text")));
    }
    return st;
}

am_status am_recall_tool_call(am_store *s, am_str user_id,
                              am_tool_format fmt,
                              const am_recall_tool_opts *opts, am_str call,
                              am_buf *out)
{
    json_t *c = NULL, *args = NULL, *hits = NULL, *msg = NULL;
    am_buf text = AM_BUF_INIT;
    const char *id = NULL, *error = NULL;
    am_recall_tool_opts o;
    am_status st;

    if (s == NULL || out == NULL)
        return AM_EINVAL;
    text.alloc = s->alloc;
    if (fmt != AM_TOOL_OPENAI && fmt != AM_TOOL_ANTHROPIC)
        return am__fail(&AM__ERR(s), AM_EINVAL, "recall tool: unknown format");
    st = tool_opts(opts, &o, &AM__ERR(s));
    if (st != AM_OK)
        return st;
    st = am__json_parse(call, "recall tool call", &c, &AM__ERR(s));
    if (st != AM_OK)
        return st;
    id = json_string_value(json_object_get(c, "id"));
    if (id == NULL) {
        st = am__fail(&AM__ERR(s), AM_EFORMAT,
                      "recall tool call: field 'id' must be a string");
        goto out;
    }
    if (fmt == AM_TOOL_OPENAI) {
        json_t *fn = json_object_get(c, "function");
        json_t *av = json_object_get(fn, "arguments");
        if (av == NULL)
            error = "Error: missing function.arguments";
        else if (json_is_object(av))
            /* OpenAI sends a JSON string; some clients send the object
             * itself: both mean the same arguments. */
            args = json_incref(av);
        else if (!json_is_string(av))
            error = "Error: function.arguments must be a JSON string (or an "
                    "object)";
        else if ((st = am__json_parse(am__json_str(av),
                                      "recall tool: arguments", &args,
                                      &AM__ERR(s))) == AM_ENOMEM)
            goto out;
        else if (st != AM_OK)
            error = "Error: the arguments are not valid JSON";
    } else {
        args = json_incref(json_object_get(c, "input"));
        if (!json_is_object(args))
            error = "Error: the tool input must be an object";
    }
    json_t *qv = json_object_get(args, "query");
    json_t *lv = json_object_get(args, "limit");
    if (error == NULL && !json_is_string(qv))
        error = "Error: 'query' (string) is required";
    if (error == NULL && lv != NULL && !json_is_integer(lv))
        error = "Error: 'limit' must be an integer";
    if (error == NULL) {
        json_int_t lim = lv != NULL ? json_integer_value(lv)
                                    : (json_int_t)o.limit;
        if (lim < 1)
            lim = 1;
        if (lim > TOOL_MAX_LIMIT)
            lim = TOOL_MAX_LIMIT;
        am_recall_search_opts so = am_recall_search_opts_default();
        so.limit = (size_t)lim;
        so.min_score = o.min_score;
        so.names_field = o.names_field;
        so.names_bonus = o.names_bonus;
        st = search_json(s, user_id, am__json_str(qv), &so, &hits);
        if (st != AM_OK)
            goto out;
        st = render(hits, &text);
        if (st != AM_OK)
            goto out;
    } else {
        st = am_buf_append(&text, error, strlen(error));
        if (st != AM_OK)
            goto out;
    }
    if (fmt == AM_TOOL_OPENAI) {
        msg = json_pack("{s:s,s:s,s:s%}", "role", "tool", "tool_call_id", id,
                        "content", text.ptr, text.len);
    } else {
        json_t *block = json_pack("{s:s,s:s,s:s%}", "type", "tool_result",
                                  "tool_use_id", id, "content", text.ptr,
                                  text.len);
        if (block != NULL && error != NULL &&
            json_object_set_new(block, "is_error", json_true()) != 0) {
            json_decref(block);
            block = NULL;
        }
        msg = block != NULL ? json_pack("{s:s,s:[o]}", "role", "user",
                                        "content", block)
                            : NULL;
    }
    if (msg == NULL) {
        st = am__fail(&AM__ERR(s), AM_ENOMEM, "recall tool: out of memory");
        goto out;
    }
    st = am__json_dump(msg, JSON_COMPACT, out, &AM__ERR(s));
out:
    json_decref(c);
    json_decref(args);
    json_decref(hits);
    json_decref(msg);
    am_buf_free(&text);
    return st;
}
