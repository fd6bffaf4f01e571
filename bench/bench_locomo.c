/* bench_locomo.c -- LoCoMo retrieval with agentmem's store (see
 * bench/locomo/run and ../shared/data/locomo/TASK.md).
 *
 *   bench_locomo SPLIT.json RUNS.jsonl [--mode hybrid|text|vector]
 *                [--context N] [--no-date] [--embedder default|hash|none]
 *                [--db TARGET]  (a store target, e.g. postgresql://...; the
 *                                default is a private SQLite :memory:)
 *                [--vec-context N] [--w-text W --w-vec W] [--prf DOCS TERMS]
 *                [--vec-floor C] [--min-score S] [--foreign] [--scores FILE]
 *                [--depth N] [--no-boost] [--boost W]
 *                [--no-names] [--names W]
 *
 * --foreign also asks every question of the next conversation's memory
 * (where nothing is relevant) and prints how many still got an answer;
 * --scores writes every result with its score, as JSON lines.
 *
 * Each turn's speaker goes into its metadata ({"speaker": ...}) and the
 * default search names it as the entity boost field (am_search.boost_field),
 * so a question that names a speaker ranks that speaker's turns higher;
 * --no-boost turns that off, --boost W sets its weight; --depth N asks
 * for N results per question (20). The proper names of each turn's own
 * text (am_text_names, the speakers left out) go into its metadata as
 * {"names": [...]} and the default search names that field as the names
 * bonus field (am_search.names_field); --no-names turns it off, --names W
 * sets its weight.
 *
 * Default indexing: each turn's text is "date + turns i-2..i+2 of the same
 * session + turn i again" for full text, and the turn alone (--vec-context
 * 0; -1 embeds the indexed text) for its vector.
 *
 * Each conversation's turns become items of one namespace (the sample id),
 * keyed by dia_id, in conversation order, as an agent would store them.
 * Only the fields TASK.md allows are read: the sessions' turns (speaker,
 * text, blip_caption), the session dates, and each QA's `question`. The
 * defaults are agentmem's default search; the options reproduce the
 * ablations reported in docs/BENCHMARKS.md.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentmem/store.h"

typedef struct cfg {
    am_search_mode mode;
    int context;     /* neighbour turns on each side in the indexed text */
    int date;        /* prefix the session date */
    const char *embedder;
    double w_text, w_vec;
    int prf_docs, prf_terms;
    double vec_floor;
    int vec_ctx;     /* neighbours in the embedded text (-1: as indexed) */
    const am_embedder *emb;
    double min_score; /* search's min_score */
    int foreign;      /* also ask each question of another conversation */
    FILE *scores;     /* every result with its score, as JSON lines */
    size_t depth;     /* results asked per question (20) */
    int boost;        /* speaker as the entity boost field */
    double boost_w;   /* its weight (0: AM_SEARCH_BOOST) */
    int names;        /* each turn's proper names as the names field */
    double names_w;   /* its weight (0: AM_SEARCH_NAMES_BONUS) */
} cfg;

/* Per-search wall and CPU times of the own-conversation questions, for
 * the percentiles printed at the end (CPU time is the figure to compare
 * on a loaded machine). */
#define MAX_LAT 8192
static double lat_wall[MAX_LAT], lat_cpu[MAX_LAT];
static size_t nlat;
/* Indexing: turns stored, and the wall and CPU time of building,
 * embedding and storing them. */
static size_t idx_turns;
static double idx_wall, idx_cpu;

static double ms_between(struct timespec a, struct timespec b)
{
    return (double)(b.tv_sec - a.tv_sec) * 1e3 +
           (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static int session_no(const char *key)
{
    /* "session_<n>" exactly; returns n or 0. */
    if (strncmp(key, "session_", 8) != 0)
        return 0;
    char *end;
    long n = strtol(key + 8, &end, 10);
    return *end == '\0' && n > 0 ? (int)n : 0;
}

typedef struct turn {
    const char *id;
    char *text;        /* "Speaker: text [shares caption]" */
    const char *date;
    const char *speaker;
    int session;
} turn;

static char *turn_text(json_t *t)
{
    const char *sp = json_string_value(json_object_get(t, "speaker"));
    const char *tx = json_string_value(json_object_get(t, "text"));
    const char *cap = json_string_value(json_object_get(t, "blip_caption"));
    size_t n = strlen(sp ? sp : "") + strlen(tx ? tx : "") +
               strlen(cap ? cap : "") + 32;
    char *s = malloc(n);
    if (cap != NULL && cap[0] != '\0')
        snprintf(s, n, "%s: %s [shares %s]", sp ? sp : "", tx ? tx : "",
                 cap);
    else
        snprintf(s, n, "%s: %s", sp ? sp : "", tx ? tx : "");
    return s;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Ask every question of `sample` against the memory of conversation
 * `target` (its own, or another's for the relevance check). */
static int query_sample(am_store *s, json_t *sample, const char *target,
                        const cfg *c, FILE *out, size_t *nq,
                        double *search_ms, size_t *answered)
{
    const char *sid = json_string_value(json_object_get(sample, "sample_id"));
    json_t *qa = json_object_get(sample, "qa");
    am_str part = am_str_c(target);
    am_ns nsp = { &part, 1 };
    am_status st;
    size_t qi;
    json_t *q;
    json_array_foreach(qa, qi, q) {
        const char *question = json_string_value(json_object_get(q,
                                                                 "question"));
        am_search sq;
        am_results *r = NULL;
        memset(&sq, 0, sizeof sq);
        sq.ns = nsp;
        sq.query = am_str_c(question);
        sq.mode = c->mode;
        sq.limit = c->depth;
        sq.w_text = c->w_text;
        sq.w_vec = c->w_vec;
        sq.prf_docs = c->prf_docs;
        sq.prf_terms = c->prf_terms;
        sq.vec_floor = c->vec_floor;
        sq.min_score = c->min_score;
        if (c->boost) {
            sq.boost_field = am_str_c("speaker");
            sq.boost = c->boost_w;
        }
        if (c->names) {
            sq.names_field = am_str_c("names");
            sq.names_bonus = c->names_w;
        }
        struct timespec a, b, ca, cb;
        clock_gettime(CLOCK_MONOTONIC, &a);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ca);
        st = am_store_search(s, &sq, &r);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
        clock_gettime(CLOCK_MONOTONIC, &b);
        *search_ms += ms_between(a, b);
        if (out != NULL && nlat < MAX_LAT) {
            lat_wall[nlat] = ms_between(a, b);
            lat_cpu[nlat++] = ms_between(ca, cb);
        }
        if (st != AM_OK) {
            fprintf(stderr, "search %s #%zu: %s\n", sid, qi,
                    am_store_last_error(s)->msg);
            return 1;
        }
        if (out != NULL) {
            fprintf(out, "{\"conv\":\"%s\",\"qa_index\":%zu,\"ranked\":[",
                    sid, qi);
            for (size_t k = 0; k < r->count; k++)
                fprintf(out, "%s\"%.*s\"", k ? "," : "",
                        (int)r->items[k].key.len, r->items[k].key.ptr);
            fprintf(out, "]}\n");
        }
        if (c->scores != NULL) {
            fprintf(c->scores, "{\"conv\":\"%s\",\"target\":\"%s\","
                    "\"qa_index\":%zu,\"ranked\":[", sid, target, qi);
            for (size_t k = 0; k < r->count; k++)
                fprintf(c->scores, "%s[\"%.*s\",%.5f]", k ? "," : "",
                        (int)r->items[k].key.len, r->items[k].key.ptr,
                        r->items[k].score);
            fprintf(c->scores, "]}\n");
        }
        if (r->count > 0)
            (*answered)++;
        am_results_free(r);
        (*nq)++;
    }
    return 0;
}

static int run_sample(am_store *s, json_t *sample, const cfg *c, FILE *out,
                      size_t *nq, double *search_ms)
{
    const char *sid = json_string_value(json_object_get(sample, "sample_id"));
    json_t *conv = json_object_get(sample, "conversation");
    int sessions[256], ns = 0;
    const char *key;
    json_t *v;
    turn *turns = NULL;
    size_t nt = 0, cap = 0;

    json_object_foreach(conv, key, v) {
        int n = session_no(key);
        if (n > 0 && json_is_array(v) && ns < 256)
            sessions[ns++] = n;
    }
    qsort(sessions, (size_t)ns, sizeof(int), cmp_int);
    for (int i = 0; i < ns; i++) {
        char k[64];
        snprintf(k, sizeof k, "session_%d", sessions[i]);
        json_t *arr = json_object_get(conv, k);
        snprintf(k, sizeof k, "session_%d_date_time", sessions[i]);
        const char *date = json_string_value(json_object_get(conv, k));
        size_t j;
        json_t *t;
        json_array_foreach(arr, j, t) {
            if (nt == cap) {
                cap = cap ? cap * 2 : 512;
                turns = realloc(turns, cap * sizeof *turns);
            }
            turns[nt].id = json_string_value(json_object_get(t, "dia_id"));
            turns[nt].text = turn_text(t);
            turns[nt].date = date != NULL ? date : "";
            turns[nt].speaker = json_string_value(json_object_get(t,
                                                                  "speaker"));
            turns[nt].session = sessions[i];
            nt++;
        }
    }

    struct timespec ia, ib, ica, icb;
    clock_gettime(CLOCK_MONOTONIC, &ia);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ica);
    /* Index: one item per turn. The indexed text may carry the session
     * date and the neighbouring turns of the same session. */
    am_str part = am_str_c(sid);
    am_ns nsp = { &part, 1 };
    am_item_in *items = calloc(nt, sizeof *items);
    /* The conversation's speakers, left out of each turn's names. */
    am_str speakers[8];
    size_t nspeakers = 0;
    am_buf names = AM_BUF_INIT;
    for (size_t i = 0; i < nt; i++) {
        size_t k = 0;
        while (k < nspeakers && turns[i].speaker != NULL &&
               strcmp(speakers[k].ptr, turns[i].speaker) != 0)
            k++;
        if (turns[i].speaker != NULL && k == nspeakers && nspeakers < 8)
            speakers[nspeakers++] = am_str_c(turns[i].speaker);
    }
    char **texts = calloc(nt, sizeof *texts);
    char **values = calloc(nt, sizeof *values);
    char **metas = calloc(nt, sizeof *metas);
    for (size_t i = 0; i < nt; i++) {
        size_t len = 64 + strlen(turns[i].date);
        for (int d = -c->context; d <= c->context; d++) {
            long j = (long)i + d;
            if (j >= 0 && (size_t)j < nt &&
                turns[j].session == turns[i].session)
                len += strlen(turns[j].text) + 2;
        }
        len += strlen(turns[i].text); /* the turn itself counts twice */
        char *t = malloc(len), *p = t;
        p[0] = '\0';
        if (c->date)
            p += sprintf(p, "%s\n", turns[i].date);
        for (int d = -c->context; d <= c->context; d++) {
            long j = (long)i + d;
            if (j >= 0 && (size_t)j < nt &&
                turns[j].session == turns[i].session)
                p += sprintf(p, "%s\n", turns[j].text);
        }
        if (c->context > 0)
            p += sprintf(p, "%s\n", turns[i].text);
        texts[i] = t;
        json_t *val = json_pack("{s:s,s:s}", "text", turns[i].text, "date",
                                turns[i].date);
        values[i] = json_dumps(val, JSON_COMPACT);
        json_decref(val);
        /* Who said it: the entity boost field of the default search; what
         * the turn names (the speakers left out): its names field. */
        if (am_text_names(am_str_c(turns[i].text), speakers, nspeakers,
                          &names, NULL) != AM_OK) {
            fprintf(stderr, "bench_locomo: out of memory\n");
            return 1;
        }
        json_t *meta = json_pack("{s:s,s:o}", "speaker",
                                 turns[i].speaker ? turns[i].speaker : "",
                                 "names", json_loads(names.ptr, 0, NULL));
        metas[i] = json_dumps(meta, JSON_COMPACT);
        json_decref(meta);
        items[i].meta = am_str_c(metas[i]);
        items[i].ns = nsp;
        items[i].key = am_str_c(turns[i].id);
        items[i].value = am_str_c(values[i]);
        items[i].text = am_str_c(t);
    }
    /* Optionally embed a narrower window than the indexed text. */
    float *vecs = NULL;
    if (c->vec_ctx >= 0 && c->emb != NULL) {
        vecs = malloc(nt * c->emb->dim * sizeof(float));
        for (size_t i = 0; i < nt; i++) {
            char buf[8192];
            size_t o = 0;
            buf[0] = '\0';
            for (int d = -c->vec_ctx; d <= c->vec_ctx; d++) {
                long j = (long)i + d;
                if (j >= 0 && (size_t)j < nt &&
                    turns[j].session == turns[i].session && o < 6000)
                    o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\n",
                                          turns[j].text);
            }
            am_str t = { buf, o };
            am_embedder_embed(c->emb, &t, 1, vecs + i * c->emb->dim, NULL);
            items[i].vec = vecs + i * c->emb->dim;
            items[i].dim = c->emb->dim;
            items[i].vec_model = c->emb->id;
        }
    }
    am_status st = am_store_put_many(s, items, nt);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &icb);
    clock_gettime(CLOCK_MONOTONIC, &ib);
    idx_turns += nt;
    idx_wall += ms_between(ia, ib);
    idx_cpu += ms_between(ica, icb);
    free(vecs);
    am_buf_free(&names);
    if (st != AM_OK) {
        fprintf(stderr, "put %s: %s\n", sid, am_store_last_error(s)->msg);
        return 1;
    }

    size_t answered = 0;
    if (query_sample(s, sample, sid, c, out, nq, search_ms, &answered) != 0)
        return 1;
    for (size_t i = 0; i < nt; i++) {
        free(turns[i].text);
        free(texts[i]);
        free(values[i]);
        free(metas[i]);
    }
    free(turns);
    free(items);
    free(texts);
    free(values);
    free(metas);
    return 0;
}

int main(int argc, char **argv)
{
    cfg c = { AM_SEARCH_HYBRID, 2, 1, "default", 0, 0, 0, 0, 0, 0, NULL, 0, 0,
              NULL, 20, 1, 0, 1, 0 };
    const char *db = ":memory:";
    if (argc < 3) {
        fprintf(stderr, "usage: bench_locomo SPLIT.json RUNS.jsonl "
                        "[--mode hybrid|text|vector] [--context N] "
                        "[--no-date] [--embedder default|hash|none]\n");
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            const char *m = argv[++i];
            c.mode = strcmp(m, "text") == 0     ? AM_SEARCH_TEXT
                     : strcmp(m, "vector") == 0 ? AM_SEARCH_VECTOR
                                                : AM_SEARCH_HYBRID;
        } else if (strcmp(argv[i], "--context") == 0 && i + 1 < argc) {
            c.context = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--w-text") == 0 && i + 1 < argc) {
            c.w_text = atof(argv[++i]);
        } else if (strcmp(argv[i], "--w-vec") == 0 && i + 1 < argc) {
            c.w_vec = atof(argv[++i]);
        } else if (strcmp(argv[i], "--prf") == 0 && i + 2 < argc) {
            c.prf_docs = atoi(argv[++i]);
            c.prf_terms = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--vec-floor") == 0 && i + 1 < argc) {
            c.vec_floor = atof(argv[++i]);
        } else if (strcmp(argv[i], "--vec-context") == 0 && i + 1 < argc) {
            c.vec_ctx = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--min-score") == 0 && i + 1 < argc) {
            c.min_score = atof(argv[++i]);
        } else if (strcmp(argv[i], "--foreign") == 0) {
            c.foreign = 1;
        } else if (strcmp(argv[i], "--scores") == 0 && i + 1 < argc) {
            c.scores = fopen(argv[++i], "w");
            if (c.scores == NULL) {
                perror(argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--depth") == 0 && i + 1 < argc) {
            c.depth = (size_t)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--no-boost") == 0) {
            c.boost = 0;
        } else if (strcmp(argv[i], "--boost") == 0 && i + 1 < argc) {
            c.boost_w = atof(argv[++i]);
        } else if (strcmp(argv[i], "--no-names") == 0) {
            c.names = 0;
        } else if (strcmp(argv[i], "--names") == 0 && i + 1 < argc) {
            c.names_w = atof(argv[++i]);
        } else if (strcmp(argv[i], "--no-date") == 0) {
            c.date = 0;
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(argv[i], "--embedder") == 0 && i + 1 < argc) {
            c.embedder = argv[++i];
        } else {
            fprintf(stderr, "bench_locomo: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    json_error_t jerr;
    json_t *split = json_load_file(argv[1], 0, &jerr);
    if (!json_is_array(split)) {
        fprintf(stderr, "%s: %s (line %d)\n", argv[1], jerr.text, jerr.line);
        return 1;
    }
    am_embedder *emb = NULL;
    am_error err = { AM_OK, "" };
    if (strcmp(c.embedder, "default") == 0)
        am_embedder_default_create(NULL, &emb, &err);
    else if (strcmp(c.embedder, "hash") == 0)
        am_embedder_hash_create(256, NULL, &emb, &err);
    am_store_opts o = am_store_opts_default();
    o.embedder = emb;
    c.emb = emb;
    am_store *s;
    if (am_store_open(db, &o, &s, &err) != AM_OK) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    FILE *out = fopen(argv[2], "w");
    if (out == NULL) {
        perror(argv[2]);
        return 1;
    }
    size_t nq = 0, i;
    double ms = 0;
    json_t *sample;
    json_array_foreach(split, i, sample) {
        if (run_sample(s, sample, &c, out, &nq, &ms) != 0)
            return 1;
    }
    fclose(out);
    if (c.foreign) {
        /* Every question against the next conversation's memory, where
         * nothing is relevant: how many still get an answer? */
        size_t n = json_array_size(split), fq = 0, fa = 0;
        double fms = 0;
        for (i = 0; i < n && n > 1; i++) {
            json_t *other = json_array_get(split, (i + 1) % n);
            const char *tid = json_string_value(json_object_get(other,
                                                                "sample_id"));
            if (query_sample(s, json_array_get(split, i), tid, &c, NULL, &fq,
                             &fms, &fa) != 0)
                return 1;
        }
        fprintf(stderr, "bench_locomo: foreign questions answered: %zu of "
                "%zu (%.1f%%) at min_score %.3f\n", fa, fq,
                fq ? 100.0 * (double)fa / (double)fq : 0, c.min_score);
    }
    if (c.scores != NULL)
        fclose(c.scores);
    fprintf(stderr, "bench_locomo: indexing %zu turns: wall %.1f ms, CPU "
            "%.1f ms (%.1f us per turn)\n", idx_turns, idx_wall, idx_cpu,
            idx_turns ? 1e3 * idx_cpu / (double)idx_turns : 0);
    fprintf(stderr, "bench_locomo: search p50 / p99: wall %.2f / %.2f ms, "
            "CPU %.2f / %.2f ms\n", pct(lat_wall, nlat, 0.5),
            pct(lat_wall, nlat, 0.99), pct(lat_cpu, nlat, 0.5),
            pct(lat_cpu, nlat, 0.99));
    fprintf(stderr, "bench_locomo: %zu questions, embedder %s, mode %s, "
            "context %d, date %d, search mean %.2f ms\n", nq,
            emb != NULL ? emb->id : "none",
            c.mode == AM_SEARCH_TEXT     ? "text"
            : c.mode == AM_SEARCH_VECTOR ? "vector"
                                         : "hybrid",
            c.context, c.date, nq ? ms / (double)nq : 0);
    am_store_close(s);
    am_embedder_free(emb);
    json_decref(split);
    return 0;
}
