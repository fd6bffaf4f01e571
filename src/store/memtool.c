/* memtool.c -- the memory tool's commands over the store.
 *
 * Each file is one item: namespace ("memtool", user), key = normalized
 * path, value = the text as a JSON string. Directories exist implicitly,
 * as the prefixes of file paths, plus /memories itself, which always
 * exists. A directory view, rename or delete walks every file of the
 * user: reading only the first N files once made a rename of a larger
 * directory leave files behind while it reported success.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/memtool.h"
#include "core/json_glue.h"
#include "store_int.h"

#define ROOT "/memories"
#define ROOT_LEN 9
#define MAX_PATH 1024
#define MAX_NAME 255
#define MAX_VIEW_CHARS 16000

typedef struct mctx {
    am_store *s;
    am_str parts[2];
    am_ns ns;
    am_buf *out;
    int is_error;
} mctx;

/* An empty buffer on the store's allocator (everything the tool owns
 * is allocated with it). */
static am_buf mbuf(const mctx *m)
{
    am_buf b = AM_BUF_INIT;
    b.alloc = m->s->alloc;
    return b;
}

/* ---- Paths ---- */

/* Normalize `in` into `out` (NUL-terminated, at most MAX_PATH bytes).
 * Returns 0 when the path is not acceptable. */
static int norm_path(am_str in, char out[MAX_PATH + 1], size_t *len)
{
    size_t o = 0, i;
    if (in.len == 0 || in.len > MAX_PATH)
        return 0;
    if (!am__utf8_valid(in.ptr, in.len, NULL))
        return 0;
    for (i = 0; i < in.len; i++) {
        unsigned char c = (unsigned char)in.ptr[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            return 0;
        if (c == '%' && i + 2 < in.len) {
            unsigned char h1 = (unsigned char)in.ptr[i + 1],
                          h2 = (unsigned char)in.ptr[i + 2];
            char h[3] = { (char)am__ascii_lower(h1), (char)am__ascii_lower(h2),
                          0 };
            if (strcmp(h, "2e") == 0 || strcmp(h, "2f") == 0 ||
                strcmp(h, "5c") == 0 || strcmp(h, "00") == 0)
                return 0;
        }
    }
    if (in.len < ROOT_LEN || memcmp(in.ptr, ROOT, ROOT_LEN) != 0 ||
        (in.len > ROOT_LEN && in.ptr[ROOT_LEN] != '/'))
        return 0;
    memcpy(out, ROOT, ROOT_LEN);
    o = ROOT_LEN;
    i = ROOT_LEN;
    while (i < in.len) {
        while (i < in.len && in.ptr[i] == '/')
            i++;
        size_t start = i;
        while (i < in.len && in.ptr[i] != '/')
            i++;
        size_t n = i - start;
        if (n == 0 || (n == 1 && in.ptr[start] == '.'))
            continue;
        if (n == 2 && in.ptr[start] == '.' && in.ptr[start + 1] == '.')
            return 0;
        if (n > MAX_NAME || o + 1 + n > MAX_PATH)
            return 0;
        out[o++] = '/';
        memcpy(out + o, in.ptr + start, n);
        o += n;
    }
    out[o] = '\0';
    *len = o;
    return 1;
}

/* The path as shown back to the model: printable, bounded. */
static void shown(am_str in, char out[200])
{
    size_t o = 0;
    for (size_t i = 0; i < in.len && o < 190; i++) {
        unsigned char c = (unsigned char)in.ptr[i];
        out[o++] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
    }
    if (in.len > 190 && o >= 190) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* ---- Replies ---- */

static am_status reply(mctx *m, int is_error, const char *fmt, ...)
    AM__PRINTF(3, 4);

static am_status reply(mctx *m, int is_error, const char *fmt, ...)
{
    va_list ap;
    char small[1];
    am_buf_clear(m->out);
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return AM_EINVAL;
    if (am_buf_reserve(m->out, (size_t)n) != AM_OK)
        return am__fail(&AM__ERR(m->s), AM_ENOMEM, "memory tool: out of memory");
    va_start(ap, fmt);
    vsnprintf(m->out->ptr, (size_t)n + 1, fmt, ap);
    va_end(ap);
    m->out->len = (size_t)n;
    m->is_error = is_error;
    return AM_OK;
}

static am_status no_path(mctx *m, am_str raw)
{
    char sh[200];
    shown(raw, sh);
    return reply(m, 1, "The path %s does not exist. Please provide a valid "
                       "path.", sh);
}

/* ---- Files in the store ---- */

/* Read file `path`: AM_OK with its text in `text`, AM_ENOTFOUND. */
static am_status read_file(mctx *m, const char *path, am_buf *text)
{
    am_buf v = mbuf(m);
    am_status st = am_store_get(m->s, m->ns, am_str_c(path), &v);
    if (st == AM_OK) {
        json_t *j = NULL;
        am_error perr = { AM_OK, "" };
        am_buf_clear(text);
        /* A value jansson could not parse for want of memory must not be
         * shown as the file's text in its JSON form. */
        if (am__json_parse_flags(am_buf_str(&v), JSON_DECODE_ANY,
                                 "memory tool: file", &j, &perr) == AM_ENOMEM)
            st = AM_ENOMEM;
        else if (json_is_string(j))
            st = am_buf_append(text, json_string_value(j),
                               json_string_length(j));
        else
            st = am_buf_append(text, v.ptr, v.len);
        if (st == AM_OK)
            st = am_buf_reserve(text, 0);
        if (st == AM_OK)
            text->ptr[text->len] = '\0';
        else
            st = am__fail(&AM__ERR(m->s), AM_ENOMEM, "memory tool: out of "
                          "memory");
        json_decref(j);
    }
    am_buf_free(&v);
    return st;
}

static am_status write_file(mctx *m, const char *path, am_str text)
{
    json_t *j = json_stringn(text.ptr != NULL ? text.ptr : "", text.len);
    am_buf v = mbuf(m);
    am_status st;
    /* json_stringn fails on invalid UTF-8 and when jansson runs out of
     * memory: tell them apart. */
    if (j == NULL && am__utf8_valid(text.ptr, text.len, NULL))
        return am__fail(&AM__ERR(m->s), AM_ENOMEM, "memory tool: out of memory");
    if (j == NULL)
        return am__fail(&AM__ERR(m->s), AM_EFORMAT,
                        "memory tool: file text is not UTF-8");
    st = am__json_dump(j, JSON_ENCODE_ANY | JSON_COMPACT, &v, &AM__ERR(m->s));
    json_decref(j);
    if (st == AM_OK) {
        am_item_in it;
        memset(&it, 0, sizeof it);
        it.ns = m->ns;
        it.key = am_str_c(path);
        it.value = am_buf_str(&v);
        it.text = text.len > 0 ? text : AM_STR(" ");
        st = am_store_put(m->s, &it);
    }
    am_buf_free(&v);
    return st;
}

/* All files of the user, every one of them (yours). */
static am_status all_files(mctx *m, am_results **out)
{
    return am_store_list(m->s, m->ns, SIZE_MAX, 0, out);
}

/* Is `key` inside directory `dir` (strictly)? */
static int under(am_str key, const char *dir, size_t dlen)
{
    return key.len > dlen + 1 && memcmp(key.ptr, dir, dlen) == 0 &&
           key.ptr[dlen] == '/';
}

static am_status is_dir(mctx *m, const char *path, size_t len, int *yes)
{
    am_results *r;
    *yes = len == ROOT_LEN;
    if (*yes)
        return AM_OK;
    am_status st = all_files(m, &r);
    if (st != AM_OK)
        return st;
    for (size_t i = 0; i < r->count && !*yes; i++)
        *yes = under(r->items[i].key, path, len);
    am_results_free(r);
    return AM_OK;
}

/* ---- Commands ---- */

static void human_size(size_t n, char out[16])
{
    if (n < 1024)
        snprintf(out, 16, "%zu", n);
    else if (n < 1024 * 1024)
        snprintf(out, 16, "%.1fK", (double)n / 1024);
    else
        snprintf(out, 16, "%.1fM", (double)n / (1024.0 * 1024));
}

typedef struct entry {
    char *path;
    size_t size;
} entry;

static int by_path(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->path, ((const entry *)b)->path);
}

static am_status view_dir(mctx *m, const char *dir, size_t dlen)
{
    am_results *r;
    am_status st = all_files(m, &r);
    entry *e = NULL;
    size_t n = 0, cap = 0, total = 0;
    am_buf text = mbuf(m);
    if (st != AM_OK)
        return st;
    /* Each file contributes itself (depth <= 2) and its directories. */
    for (size_t i = 0; i < r->count && st == AM_OK; i++) {
        am_str k = r->items[i].key;
        if (!under(k, dir, dlen))
            continue;
        size_t fsize = 0;
        json_t *j = NULL;
        am_error perr = { AM_OK, "" };
        /* Out of memory in jansson is no file of size 0. */
        if (am__json_parse_flags(r->items[i].value, JSON_DECODE_ANY,
                                 "memory tool: file", &j,
                                 &perr) == AM_ENOMEM) {
            st = am__fail(&AM__ERR(m->s), AM_ENOMEM,
                          "memory tool: out of memory");
            break;
        }
        fsize = json_is_string(j) ? json_string_length(j) : 0;
        json_decref(j);
        total += fsize;
        size_t depth = 0;
        for (size_t p = dlen; p < k.len && st == AM_OK; p++) {
            if (k.ptr[p] != '/')
                continue;
            /* The component starting after this slash. */
            size_t end = p + 1;
            while (end < k.len && k.ptr[end] != '/')
                end++;
            depth++;
            if (k.ptr[p + 1] == '.' || (end - p - 1 == 12 &&
                memcmp(k.ptr + p + 1, "node_modules", 12) == 0))
                break; /* hidden: skip it and what is below */
            if (depth > 2)
                break;
            size_t plen = end;
            size_t j2 = 0;
            while (j2 < n && !(strlen(e[j2].path) == plen &&
                               memcmp(e[j2].path, k.ptr, plen) == 0))
                j2++;
            if (j2 == n) {
                if (am__grow(m->s->alloc, (void **)&e, &cap, n + 1,
                             sizeof *e) != AM_OK ||
                    (e[n].path = am__strndup(m->s->alloc, k.ptr, plen)) == NULL) {
                    st = am__fail(&AM__ERR(m->s), AM_ENOMEM,
                                  "memory tool: out of memory");
                    break;
                }
                e[n].size = 0;
                n++;
            }
            e[j2].size += fsize;
            p = end - 1;
        }
    }
    if (st == AM_OK) {
        char sz[16];
        if (n > 1)
            qsort(e, n, sizeof *e, by_path);
        human_size(total, sz);
        st = am_buf_appendf(&text, "Here're the files and directories up "
                            "to 2 levels deep in %s, excluding hidden items "
                            "and node_modules:\n%s\t%s", dir, sz, dir);
        for (size_t i = 0; i < n && st == AM_OK; i++) {
            human_size(e[i].size, sz);
            st = am_buf_appendf(&text, "\n%s\t%s", sz, e[i].path);
        }
        if (st == AM_OK)
            st = reply(m, 0, "%s", text.ptr);
        else
            st = am__fail(&AM__ERR(m->s), AM_ENOMEM, "memory tool: out of "
                          "memory");
    }
    for (size_t i = 0; i < n; i++)
        am__free(m->s->alloc, e[i].path, strlen(e[i].path) + 1);
    am__free(m->s->alloc, e, cap * sizeof *e);
    am_buf_free(&text);
    am_results_free(r);
    return st;
}

/* Split text into lines the way the reference tool does ("a\nb\n" is
 * ["a", "b", ""]): line i is [start, end) of the text. One array of
 * spans, so a failed grow leaves one allocation of a known size. */
typedef struct span {
    size_t start, end;
} span;

typedef struct lines {
    span *v;
    size_t count, cap;
    const am_allocator *alloc;
} lines;

/* On failure *l holds what was split so far; lines_free releases it. */
static am_status split_lines(const am_allocator *a, const char *t,
                             size_t len, lines *l)
{
    size_t s = 0;
    memset(l, 0, sizeof *l);
    l->alloc = a;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || t[i] == '\n') {
            if (am__grow(l->alloc, (void **)&l->v, &l->cap, l->count + 1,
                         sizeof *l->v) != AM_OK)
                return AM_ENOMEM;
            l->v[l->count].start = s;
            l->v[l->count].end = i;
            l->count++;
            s = i + 1;
        }
    }
    return AM_OK;
}

static void lines_free(lines *l)
{
    am__free(l->alloc, l->v, l->cap * sizeof *l->v);
    memset(l, 0, sizeof *l);
}

/* Append lines [from, to) (0-based) numbered "%6d\t". */
static am_status numbered(am_buf *b, const char *t, const lines *l,
                          size_t from, size_t to)
{
    am_status st = AM_OK;
    for (size_t i = from; i < to && st == AM_OK; i++)
        st = am_buf_appendf(b, "%s%6zu\t%.*s", i > from ? "\n" : "", i + 1,
                            (int)(l->v[i].end - l->v[i].start),
                            t + l->v[i].start);
    return st;
}

static am_status cmd_view(mctx *m, json_t *in, am_str raw, const char *path,
                          size_t plen)
{
    am_buf text = mbuf(m), outb = mbuf(m);
    lines l;
    int dir;
    am_status st = read_file(m, path, &text);
    json_t *range = json_object_get(in, "view_range");
    if (st == AM_ENOTFOUND) {
        st = is_dir(m, path, plen, &dir);
        if (st == AM_OK)
            st = dir ? view_dir(m, path, plen) : no_path(m, raw);
        am_buf_free(&text);
        return st;
    }
    if (st != AM_OK)
        return st;
    /* The reference drops one trailing newline before numbering. */
    size_t tlen = text.len;
    if (tlen > 0 && text.ptr[tlen - 1] == '\n')
        tlen--;
    st = split_lines(m->s->alloc, text.ptr != NULL ? text.ptr : "", tlen, &l);
    if (st != AM_OK) {
        lines_free(&l);
        am_buf_free(&text);
        return am__fail(&AM__ERR(m->s), AM_ENOMEM, "memory tool: out of memory");
    }
    size_t from = 0, to = l.count;
    if (l.count > 999999) {
        st = reply(m, 1, "File %s exceeds maximum line limit of 999,999 "
                         "lines.", path);
        goto out;
    }
    if (range != NULL) {
        json_t *a = json_array_get(range, 0), *b = json_array_get(range, 1);
        if (!json_is_array(range) || json_array_size(range) != 2 ||
            !json_is_integer(a) || !json_is_integer(b)) {
            st = reply(m, 1, "Error: Invalid `view_range` parameter: it "
                             "should be a list of two integers.");
            goto out;
        }
        json_int_t lo = json_integer_value(a), hi = json_integer_value(b);
        if (lo < 1 || (size_t)lo > l.count ||
            (hi != -1 && (hi < lo || (size_t)hi > l.count))) {
            st = reply(m, 1, "Error: Invalid `view_range` parameter: [%lld, "
                             "%lld]. It should be within the range of lines "
                             "of the file: [1, %zu]", (long long)lo,
                       (long long)hi, l.count);
            goto out;
        }
        from = (size_t)lo - 1;
        to = hi == -1 ? l.count : (size_t)hi;
    }
    st = am_buf_appendf(&outb, "Here's the content of %s with line "
                        "numbers:\n", path);
    /* Long files: cut the view at MAX_VIEW_CHARS and say so. */
    size_t cut = to;
    for (size_t i = from; i < to; i++)
        if (l.v[i].end - l.v[from].start > MAX_VIEW_CHARS) {
            cut = i > from ? i : from + 1;
            break;
        }
    if (st == AM_OK)
        st = numbered(&outb, text.ptr != NULL ? text.ptr : "", &l, from,
                      cut);
    if (st == AM_OK && cut < to)
        st = am_buf_appendf(&outb, "\n[truncated at line %zu of %zu; use "
                            "view_range to see more]", cut, to);
    if (st == AM_OK)
        st = reply(m, 0, "%s", outb.ptr);
    else
        st = am__fail(&AM__ERR(m->s), AM_ENOMEM, "memory tool: out of memory");
out:
    lines_free(&l);
    am_buf_free(&text);
    am_buf_free(&outb);
    return st;
}

static am_status get_str(mctx *m, json_t *in, const char *field,
                         am_str *out, int required, int *bad)
{
    json_t *v = json_object_get(in, field);
    if (v == NULL && !required) {
        *out = (am_str){ "", 0 };
        return AM_OK;
    }
    if (!json_is_string(v)) {
        *bad = 1;
        return reply(m, 1, "Error: Parameter `%s` is required and must be "
                           "a string", field);
    }
    *out = am__json_str(v);
    /* Input is parsed with NUL allowed (am__json_parse) so that a NUL is
     * answered here, in the tool's own words, instead of failing later
     * with a parser flag's name or "not valid UTF-8". */
    if (memchr(out->ptr, '\0', out->len) != NULL) {
        *bad = 1;
        return reply(m, 1, "Error: Parameter `%s` contains a NUL character "
                           "(\\u0000); memory files hold text without NUL",
                     field);
    }
    return AM_OK;
}

static am_status cmd_create(mctx *m, json_t *in, const char *path,
                            size_t plen)
{
    am_str text;
    int bad = 0, dir;
    am_buf old = mbuf(m);
    am_status st = get_str(m, in, "file_text", &text, 1, &bad);
    if (st != AM_OK || bad)
        return st;
    st = is_dir(m, path, plen, &dir);
    if (st != AM_OK)
        return st;
    if (dir)
        return reply(m, 1, "Error: %s is a directory", path);
    st = read_file(m, path, &old);
    am_buf_free(&old);
    if (st == AM_OK)
        return reply(m, 1, "Error: File %s already exists", path);
    if (st != AM_ENOTFOUND)
        return st;
    st = write_file(m, path, text);
    if (st == AM_EFORMAT)
        return reply(m, 1, "Error: file_text is not valid UTF-8");
    if (st != AM_OK)
        return st;
    return reply(m, 0, "File created successfully at: %s", path);
}

static am_status cmd_str_replace(mctx *m, json_t *in, am_str raw,
                                 const char *path)
{
    am_str olds, news;
    int bad = 0;
    am_buf text = mbuf(m), nb = mbuf(m);
    lines l;
    char sh[200];
    am_status st = get_str(m, in, "old_str", &olds, 1, &bad);
    if (st == AM_OK && !bad)
        st = get_str(m, in, "new_str", &news, 0, &bad);
    if (st != AM_OK || bad)
        return st;
    st = read_file(m, path, &text);
    if (st == AM_ENOTFOUND) {
        shown(raw, sh);
        return reply(m, 1, "Error: The path %s does not exist. Please "
                           "provide a valid path.", sh);
    }
    if (st != AM_OK)
        return st;
    const char *t = text.ptr != NULL ? text.ptr : "";
    size_t hits = 0, first = 0;
    if (olds.len > 0)
        for (size_t i = 0; i + olds.len <= text.len; i++)
            if (memcmp(t + i, olds.ptr, olds.len) == 0) {
                if (hits++ == 0)
                    first = i;
            }
    if (hits == 0) {
        st = reply(m, 1, "No replacement was performed, old_str `%.*s` did "
                         "not appear verbatim in %s.", (int)olds.len,
                   olds.ptr, path);
        goto out;
    }
    if (hits > 1) {
        /* Name the lines of every occurrence. */
        am_buf ln = mbuf(m);
        size_t line = 1, k = 0;
        for (size_t i = 0; i + olds.len <= text.len && st == AM_OK; i++) {
            if (memcmp(t + i, olds.ptr, olds.len) == 0)
                st = am_buf_appendf(&ln, "%s%zu", k++ ? ", " : "", line);
            if (t[i] == '\n')
                line++;
        }
        if (st == AM_OK)
            st = reply(m, 1, "No replacement was performed. Multiple "
                             "occurrences of old_str `%.*s` in lines: %s. "
                             "Please ensure it is unique", (int)olds.len,
                       olds.ptr, ln.ptr);
        am_buf_free(&ln);
        goto out;
    }
    st = am_buf_append(&nb, t, first);
    if (st == AM_OK)
        st = am_buf_append(&nb, news.ptr, news.len);
    if (st == AM_OK)
        st = am_buf_append(&nb, t + first + olds.len,
                           text.len - first - olds.len);
    if (st == AM_OK)
        st = am_buf_reserve(&nb, 0);
    if (st != AM_OK) {
        st = am__fail(&AM__ERR(m->s), AM_ENOMEM, "memory tool: out of memory");
        goto out;
    }
    nb.ptr[nb.len] = '\0';
    st = write_file(m, path, am_buf_str(&nb));
    if (st != AM_OK)
        goto out;
    /* Reply with a snippet of the edited region. */
    size_t eline = 0;
    for (size_t i = 0; i < first; i++)
        if (nb.ptr[i] == '\n')
            eline++;
    if (split_lines(m->s->alloc, nb.ptr, nb.len, &l) != AM_OK) {
        lines_free(&l);
        st = am__fail(&AM__ERR(m->s), AM_ENOMEM, "memory tool: out of memory");
        goto out;
    }
    size_t from = eline > 4 ? eline - 4 : 0, nl = 0;
    for (size_t i = 0; i < news.len; i++)
        if (news.ptr[i] == '\n')
            nl++;
    size_t to = eline + nl + 5 < l.count ? eline + nl + 5 : l.count;
    am_buf_clear(&text);
    st = am_buf_appendf(&text, "The memory file has been edited. Here's the "
                        "result of running `cat -n` on a snippet of %s:\n",
                        path);
    if (st == AM_OK)
        st = numbered(&text, nb.ptr, &l, from, to);
    lines_free(&l);
    if (st == AM_OK)
        st = reply(m, 0, "%s", text.ptr);
out:
    am_buf_free(&text);
    am_buf_free(&nb);
    return st;
}

static am_status cmd_insert(mctx *m, json_t *in, am_str raw,
                            const char *path)
{
    am_str ins;
    int bad = 0;
    am_buf text = mbuf(m), nb = mbuf(m);
    lines l;
    char sh[200];
    json_t *lv = json_object_get(in, "insert_line");
    am_status st = get_str(m, in, "insert_text", &ins, 1, &bad);
    if (st != AM_OK || bad)
        return st;
    if (!json_is_integer(lv))
        return reply(m, 1, "Error: Parameter `insert_line` is required and "
                           "must be an integer");
    st = read_file(m, path, &text);
    if (st == AM_ENOTFOUND) {
        shown(raw, sh);
        return reply(m, 1, "Error: The path %s does not exist", sh);
    }
    if (st != AM_OK)
        return st;
    const char *t = text.ptr != NULL ? text.ptr : "";
    if (split_lines(m->s->alloc, t, text.len, &l) != AM_OK) {
        lines_free(&l);
        am_buf_free(&text);
        return am__fail(&AM__ERR(m->s), AM_ENOMEM, "memory tool: out of memory");
    }
    json_int_t at = json_integer_value(lv);
    if (at < 0 || (size_t)at > l.count) {
        st = reply(m, 1, "Error: Invalid `insert_line` parameter: %lld. It "
                         "should be within the range of lines of the file: "
                         "[0, %zu]", (long long)at, l.count);
        goto out;
    }
    if (ins.len > 0 && ins.ptr[ins.len - 1] == '\n')
        ins.len--;
    /* Lines [0, at) then the new text then the rest, "\n"-joined. */
    size_t split = at == 0 ? 0 : l.v[at - 1].end;
    st = am_buf_append(&nb, t, split);
    if (st == AM_OK && at > 0)
        st = am_buf_append(&nb, "\n", 1);
    if (st == AM_OK)
        st = am_buf_append(&nb, ins.ptr, ins.len);
    if (st == AM_OK && (size_t)at < l.count) {
        st = am_buf_append(&nb, "\n", 1);
        if (st == AM_OK)
            st = am_buf_append(&nb, t + l.v[at].start,
                               text.len - l.v[at].start);
    }
    if (st != AM_OK) {
        st = am__fail(&AM__ERR(m->s), AM_ENOMEM, "memory tool: out of memory");
        goto out;
    }
    st = write_file(m, path, am_buf_str(&nb));
    if (st == AM_OK)
        st = reply(m, 0, "The file %s has been edited.", path);
out:
    lines_free(&l);
    am_buf_free(&text);
    am_buf_free(&nb);
    return st;
}

static am_status cmd_delete(mctx *m, am_str raw, const char *path,
                            size_t plen)
{
    am_results *r;
    am_status st;
    size_t gone = 0;
    char sh[200];
    if (plen == ROOT_LEN)
        return reply(m, 1, "Error: Cannot delete the %s directory itself",
                     ROOT);
    am_str *keys = NULL;
    st = all_files(m, &r);
    if (st != AM_OK)
        return st;
    if (r->count > 0 &&
        (keys = am__calloc(m->s->alloc, r->count, sizeof *keys)) == NULL)
        st = AM_ENOMEM;
    for (size_t i = 0; i < r->count && st == AM_OK; i++) {
        am_str k = r->items[i].key;
        if ((k.len == plen && memcmp(k.ptr, path, plen) == 0) ||
            under(k, path, plen))
            keys[gone++] = k;
    }
    if (st == AM_OK && gone > 0) {
        /* A directory goes as a whole or not at all. */
        am__write w;
        memset(&w, 0, sizeof w);
        w.del_ns = m->ns;
        w.dels = keys;
        w.ndel = gone;
        st = am__store_write(m->s, &w);
    }
    if (keys != NULL)
        am__free(m->s->alloc, keys, r->count * sizeof *keys);
    am_results_free(r);
    if (st != AM_OK)
        return st;
    if (gone == 0) {
        shown(raw, sh);
        return reply(m, 1, "Error: The path %s does not exist", sh);
    }
    return reply(m, 0, "Successfully deleted %s", path);
}

static am_status cmd_rename(mctx *m, json_t *in)
{
    am_str ro, rn;
    int bad = 0, dir = 0;
    char op[MAX_PATH + 1], np[MAX_PATH + 1], sh[200];
    size_t olen, nlen;
    am_results *r = NULL;
    am_buf text = mbuf(m), key = mbuf(m);
    am_item_in *puts = NULL;
    am_str *olds = NULL;
    size_t *koff = NULL;
    am_status st = get_str(m, in, "old_path", &ro, 1, &bad);
    if (st == AM_OK && !bad)
        st = get_str(m, in, "new_path", &rn, 1, &bad);
    if (st != AM_OK || bad)
        return st;
    if (!norm_path(ro, op, &olen)) {
        shown(ro, sh);
        return reply(m, 1, "Error: The path %s does not exist", sh);
    }
    if (!norm_path(rn, np, &nlen)) {
        shown(rn, sh);
        return reply(m, 1, "The path %s does not exist. Please provide a "
                           "valid path.", sh);
    }
    if (olen == ROOT_LEN || nlen == ROOT_LEN)
        return reply(m, 1, "Error: Cannot rename the %s directory itself",
                     ROOT);
    if (nlen > olen && memcmp(np, op, olen) == 0 && np[olen] == '/')
        return reply(m, 1, "Error: Cannot move %s into itself", op);
    st = read_file(m, np, &text);
    if (st == AM_OK)
        st = AM_EEXIST;
    else if (st == AM_ENOTFOUND)
        st = is_dir(m, np, nlen, &dir);
    if (st == AM_EEXIST || (st == AM_OK && dir)) {
        am_buf_free(&text);
        return reply(m, 1, "Error: The destination %s already exists", np);
    }
    if (st != AM_OK)
        goto out;
    st = all_files(m, &r);
    if (st != AM_OK)
        goto out;
    size_t moved = 0;
    /* Every file under the old path: new keys (in `key`, one after the
     * other, offsets in `koff`) put and old keys deleted in one
     * transaction, so a failure leaves the tree as it was. */
    if (r->count > 0) {
        puts = am__calloc(m->s->alloc, r->count, sizeof *puts);
        olds = am__calloc(m->s->alloc, r->count, sizeof *olds);
        koff = am__calloc(m->s->alloc, r->count + 1, sizeof *koff);
        if (puts == NULL || olds == NULL || koff == NULL)
            st = AM_ENOMEM;
    }
    am_buf_clear(&key);
    for (size_t i = 0; i < r->count && st == AM_OK; i++) {
        am_str k = r->items[i].key;
        int self = k.len == olen && memcmp(k.ptr, op, olen) == 0;
        if (!self && !under(k, op, olen))
            continue;
        size_t start = key.len;
        st = am_buf_append(&key, np, nlen);
        if (st == AM_OK)
            st = am_buf_append(&key, k.ptr + olen, k.len - olen);
        if (st == AM_OK && key.len - start > MAX_PATH)
            st = AM_ELIMIT;
        if (st != AM_OK)
            break;
        koff[moved] = start;
        koff[moved + 1] = key.len;
        puts[moved].ns = m->ns;
        puts[moved].value = r->items[i].value;
        puts[moved].text = r->items[i].text;
        olds[moved] = k;
        moved++;
    }
    for (size_t i = 0; st == AM_OK && i < moved; i++)
        puts[i].key = (am_str){ key.ptr + koff[i], koff[i + 1] - koff[i] };
    if (st == AM_OK && moved > 0) {
        am__write w;
        memset(&w, 0, sizeof w);
        w.puts = puts;
        w.nput = moved;
        w.del_ns = m->ns;
        w.dels = olds;
        w.ndel = moved;
        st = am__store_write(m->s, &w);
    }
    if (st == AM_ELIMIT) {
        st = reply(m, 1, "Error: The destination %s would make a path "
                         "longer than %d bytes", np, MAX_PATH);
        goto out;
    }
    if (st != AM_OK)
        goto out;
    if (moved == 0) {
        shown(ro, sh);
        st = reply(m, 1, "Error: The path %s does not exist", sh);
        goto out;
    }
    st = reply(m, 0, "Successfully renamed %s to %s", op, np);
out:
    if (r != NULL) {
        am__free(m->s->alloc, puts, r->count * sizeof *puts);
        am__free(m->s->alloc, olds, r->count * sizeof *olds);
        am__free(m->s->alloc, koff, (r->count + 1) * sizeof *koff);
    }
    am_results_free(r);
    am_buf_free(&text);
    am_buf_free(&key);
    return st;
}

am_status am_memtool_exec(am_store *s, am_str user_id, am_str input,
                          am_buf *out, int *is_error)
{
    mctx m;
    json_t *in = NULL;
    am_status st;
    char path[MAX_PATH + 1];
    size_t plen = 0;

    if (s == NULL || out == NULL)
        return AM_EINVAL;
    if (is_error != NULL)
        *is_error = 0;
    if (user_id.len == 0)
        return am__fail(&AM__ERR(s), AM_EINVAL, "memory tool: empty user id");
    memset(&m, 0, sizeof m);
    m.s = s;
    m.parts[0] = AM_STR("memtool");
    m.parts[1] = user_id;
    m.ns = (am_ns){ m.parts, 2 };
    m.out = out;
    /* JSON is UTF-8 text: input that is not (a path with a stray byte
     * included) never reaches the path checks, so say what is wrong
     * rather than "must be a JSON object". */
    size_t bad_at = 0;
    bool bad_utf8 = input.len > 0 && input.ptr != NULL &&
                    !am__utf8_valid(input.ptr, input.len, &bad_at);
    if (!bad_utf8) {
        am_error perr = { AM_OK, "" };
        /* Invalid input is the model's mistake, answered in the reply;
         * jansson running out of memory is an error of the call. */
        if (am__json_parse(input, "memory tool: input", &in, &perr) ==
            AM_ENOMEM)
            return am__fail(&AM__ERR(s), AM_ENOMEM, "memory tool: out of memory");
    }
    const char *cmd = json_string_value(json_object_get(in, "command"));
    json_t *pv = json_object_get(in, "path");
    if (bad_utf8) {
        st = reply(&m, 1, "Error: the tool input is not valid UTF-8 (byte "
                          "%zu)", bad_at);
    } else if (!json_is_object(in)) {
        st = reply(&m, 1, "Error: the tool input must be a JSON object");
    } else if (cmd == NULL) {
        st = reply(&m, 1, "Error: Parameter `command` is required");
    } else if (strcmp(cmd, "rename") == 0) {
        st = cmd_rename(&m, in);
    } else if (strcmp(cmd, "view") != 0 && strcmp(cmd, "create") != 0 &&
               strcmp(cmd, "str_replace") != 0 &&
               strcmp(cmd, "insert") != 0 && strcmp(cmd, "delete") != 0) {
        char sh[200];
        shown(am_str_c(cmd), sh);
        st = reply(&m, 1, "Error: unknown command %s", sh);
    } else if (!json_is_string(pv)) {
        st = reply(&m, 1, "Error: Parameter `path` is required and must be "
                          "a string");
    } else if (!norm_path(am__json_str(pv), path, &plen)) {
        st = no_path(&m, am__json_str(pv));
    } else if (strcmp(cmd, "view") == 0) {
        st = cmd_view(&m, in, am__json_str(pv), path, plen);
    } else if (strcmp(cmd, "create") == 0) {
        st = cmd_create(&m, in, path, plen);
    } else if (strcmp(cmd, "str_replace") == 0) {
        st = cmd_str_replace(&m, in, am__json_str(pv), path);
    } else if (strcmp(cmd, "insert") == 0) {
        st = cmd_insert(&m, in, am__json_str(pv), path);
    } else {
        st = cmd_delete(&m, am__json_str(pv), path, plen);
    }
    json_decref(in);
    if (is_error != NULL)
        *is_error = m.is_error;
    return st;
}

am_status am_memtool_call(am_store *s, am_str user_id, am_str call,
                          am_buf *out)
{
    json_t *c = NULL, *res = NULL;
    am_buf text = AM_BUF_INIT, input = AM_BUF_INIT;
    int is_error = 0;
    am_status st;

    if (s == NULL || out == NULL)
        return AM_EINVAL;
    text.alloc = input.alloc = s->alloc;
    st = am__json_parse(call, "memory tool call", &c, &AM__ERR(s));
    if (st != AM_OK)
        return st;
    const char *id = json_string_value(json_object_get(c, "id"));
    if (id == NULL) {
        st = am__fail(&AM__ERR(s), AM_EFORMAT,
                      "memory tool call: field 'id' must be a string");
        goto out;
    }
    json_t *in = json_object_get(c, "input");
    if (in != NULL)
        st = am__json_dump(in, JSON_COMPACT | JSON_ENCODE_ANY, &input,
                           &AM__ERR(s));
    if (st == AM_OK)
        st = am_memtool_exec(s, user_id, am_buf_str(&input), &text,
                             &is_error);
    if (st != AM_OK)
        goto out;
    res = json_pack("{s:s,s:s,s:s%}", "type", "tool_result", "tool_use_id",
                    id, "content", text.ptr != NULL ? text.ptr : "",
                    text.len);
    if (res != NULL && is_error &&
        json_object_set_new(res, "is_error", json_true()) != 0) {
        json_decref(res);
        res = NULL;
    }
    if (res == NULL) {
        st = am__fail(&AM__ERR(s), AM_ENOMEM, "memory tool: out of memory");
        goto out;
    }
    st = am__json_dump(res, JSON_COMPACT, out, &AM__ERR(s));
out:
    json_decref(c);
    json_decref(res);
    am_buf_free(&text);
    am_buf_free(&input);
    return st;
}

am_status am_memtool_def(am_buf *out)
{
    static const char def[] = "{\"type\":\"memory_20250818\","
                              "\"name\":\"memory\"}";
    if (out == NULL)
        return AM_EINVAL;
    am_buf_clear(out);
    return am_buf_append(out, def, sizeof def - 1);
}
