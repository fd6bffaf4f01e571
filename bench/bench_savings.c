/* bench_savings.c -- token savings of each strategy and preset, and how
 * many facts asked about later survive compression.
 *
 *   bench_savings LOCOMO.json AGENT_SESSION.json [FIRST:LAST]
 *
 * LoCoMo: every conversation's turns are fed in order through am_memory
 * (speaker A as user, speaker B as assistant, "[session date] Name: text",
 * image captions appended), with the offline summarizer. Savings are the
 * manager's net savings over all tokens added. A QA evidence turn
 * "survives" when, in the final context, its message is still there
 * verbatim, or (for the summarizing strategies) one of its sentences of
 * 20+ bytes appears in the running summary. LoCoMo conversations hold
 * only ~16-26k tokens, below every preset's threshold, so for LoCoMo the
 * presets' thresholds are divided by 10 (3k/4k/6k); everything else is as
 * the preset says.
 *
 * Agent session: examples/context/agent_session.json (546 messages with
 * tool calls) with the presets unscaled.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agentmem/memconfig.h"
#include "agentmem/msg.h"
#include "agentmem/window.h"

typedef struct cfg {
    const char *name;
    const char *preset;
    int strategy; /* -1: the preset's */
} cfg;

static const cfg configs[] = {
    { "sliding_window", "balanced", AM_COMPRESS_SLIDING_WINDOW },
    { "selective", "balanced", AM_COMPRESS_SELECTIVE },
    { "deletion", "balanced", AM_COMPRESS_DELETION },
    { "preset_aggressive", "aggressive", -1 },
    { "preset_balanced", "balanced", -1 },
    { "preset_conservative", "conservative", -1 },
};
#define NCFG (sizeof configs / sizeof configs[0])

typedef struct turn {
    char id[16];
    am_msg *msg;
} turn;

typedef struct conv {
    turn *t;
    size_t n;
    char (*evidence)[16];
    size_t nev;
} conv;

static void add_turn(conv *c, const char *id, am_role role, const char *text)
{
    am_msg *m = NULL;
    c->t = realloc(c->t, (c->n + 1) * sizeof *c->t);
    if (am_msg_create_text(NULL, role, am_str_c(text), &m, NULL) != AM_OK)
        exit(1);
    snprintf(c->t[c->n].id, sizeof c->t[c->n].id, "%s", id);
    c->t[c->n].msg = m;
    c->n++;
}

static void load_locomo(const char *path, conv **out, size_t *nout)
{
    json_error_t e;
    json_t *root = json_load_file(path, 0, &e);
    size_t i;
    json_t *sample;
    if (root == NULL) {
        fprintf(stderr, "%s: %s\n", path, e.text);
        exit(1);
    }
    *nout = json_array_size(root);
    *out = calloc(*nout, sizeof **out);
    json_array_foreach(root, i, sample) {
        conv *c = &(*out)[i];
        json_t *cv = json_object_get(sample, "conversation");
        const char *a = json_string_value(json_object_get(cv, "speaker_a"));
        for (int s = 1; s < 100; s++) {
            char key[48];
            json_t *sess, *turn_j;
            size_t k;
            snprintf(key, sizeof key, "session_%d", s);
            sess = json_object_get(cv, key);
            if (sess == NULL)
                continue;
            snprintf(key, sizeof key, "session_%d_date_time", s);
            const char *date = json_string_value(json_object_get(cv, key));
            json_array_foreach(sess, k, turn_j) {
                char buf[4096];
                const char *spk =
                    json_string_value(json_object_get(turn_j, "speaker"));
                const char *txt =
                    json_string_value(json_object_get(turn_j, "text"));
                const char *cap = json_string_value(
                    json_object_get(turn_j, "blip_caption"));
                int n = snprintf(buf, sizeof buf, "%s%s%s%s: %s",
                                 k == 0 ? "[" : "",
                                 k == 0 && date ? date : "",
                                 k == 0 ? "] " : "", spk ? spk : "?",
                                 txt ? txt : "");
                if (cap != NULL && n > 0 && (size_t)n < sizeof buf)
                    snprintf(buf + n, sizeof buf - (size_t)n,
                             " [shares a photo: %s]", cap);
                add_turn(c,
                         json_string_value(json_object_get(turn_j, "dia_id")),
                         spk && a && strcmp(spk, a) == 0 ? AM_ROLE_USER
                                                         : AM_ROLE_ASSISTANT,
                         buf);
            }
        }
        /* Unique evidence ids of every QA. */
        json_t *qa = json_object_get(sample, "qa"), *q;
        size_t qi;
        json_array_foreach(qa, qi, q) {
            json_t *ev = json_object_get(q, "evidence"), *x;
            size_t ei;
            json_array_foreach(ev, ei, x) {
                const char *id = json_string_value(x);
                bool dup = false;
                if (id == NULL)
                    continue;
                for (size_t d = 0; d < c->nev && !dup; d++)
                    dup = strcmp(c->evidence[d], id) == 0;
                if (dup)
                    continue;
                c->evidence = realloc(c->evidence,
                                      (c->nev + 1) * sizeof *c->evidence);
                snprintf(c->evidence[c->nev++], 16, "%s", id);
            }
        }
    }
    json_decref(root);
}

static am_memory_config make_cfg(const cfg *k, size_t scale)
{
    am_memory_config c = am_memory_config_default();
    am_memory_config_preset(&c, am_str_c(k->preset), NULL);
    if (k->strategy >= 0)
        c.strategy = (am_compress_strategy)k->strategy;
    c.compression_threshold /= scale;
    return c;
}

static bool contains(am_str hay, const char *needle, size_t len)
{
    for (size_t i = 0; i + len <= hay.len; i++)
        if (hay.ptr[i] == needle[0] && memcmp(hay.ptr + i, needle, len) == 0)
            return true;
    return false;
}

/* True when a sentence (20+ bytes) of `text` appears in `summary`. */
static bool in_summary(am_str text, am_str summary)
{
    size_t start = 0;
    char buf[1024];
    if (summary.len == 0)
        return false;
    for (size_t i = 0; i <= text.len; i++) {
        bool end = i == text.len ||
                   ((text.ptr[i] == '.' || text.ptr[i] == '!' ||
                     text.ptr[i] == '?') &&
                    (i + 1 == text.len || text.ptr[i + 1] == ' '));
        if (!end)
            continue;
        size_t len = i - start + (i < text.len);
        while (len > 0 && text.ptr[start] == ' ')
            start++, len--;
        if (len >= 20 && len < sizeof buf) {
            memcpy(buf, text.ptr + start, len);
            buf[len] = '\0';
            if (contains(summary, buf, len))
                return true;
        }
        start = i + 1;
    }
    return false;
}

typedef struct totals {
    size_t added, context, compressions, ev, verbatim, summarized;
    int64_t net;
} totals;

static void run_conv(const conv *c, const am_memory_config *mc, totals *t)
{
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    am_msg_list ctx = AM_MSG_LIST_INIT;
    am_memory_stats s;
    am_compressed_memory rec;
    am_str summary = { "", 0 };
    o.config = *mc;
    if (am_memory_create(&o, &mem, NULL) != AM_OK)
        exit(1);
    for (size_t i = 0; i < c->n; i++)
        if (am_memory_add(mem, c->t[i].msg, NULL) != AM_OK) {
            fprintf(stderr, "add: %s\n", am_memory_last_error(mem)->msg);
            exit(1);
        }
    am_memory_context(mem, &ctx);
    am_memory_stats_get(mem, &s);
    if (am_memory_compressed(mem, &rec))
        summary = rec.summary;
    t->added += s.total_tokens;
    t->context += s.current_tokens;
    t->net += s.net_savings;
    t->compressions += s.compressions;
    for (size_t e = 0; e < c->nev; e++) {
        const am_msg *m = NULL;
        bool kept = false;
        for (size_t i = 0; i < c->n && m == NULL; i++)
            if (strcmp(c->t[i].id, c->evidence[e]) == 0)
                m = c->t[i].msg;
        if (m == NULL)
            continue; /* evidence id not in the dialog (data quirk) */
        t->ev++;
        for (size_t i = 0; i < ctx.count && !kept; i++)
            kept = ctx.items[i] == m;
        if (kept)
            t->verbatim++;
        else if (in_summary(am_msg_content_text(m), summary))
            t->summarized++;
    }
    am_msg_list_free(&ctx);
    am_memory_free(mem);
}

int main(int argc, char **argv)
{
    conv *lc = NULL;
    size_t nlc = 0, turns = 0;
    conv agent = { NULL, 0, NULL, 0 };

    if (argc < 3) {
        fprintf(stderr, "usage: bench_savings LOCOMO.json SESSION.json "
                        "[FIRST:LAST]\n");
        return 2;
    }
    load_locomo(argv[1], &lc, &nlc);
    if (argc > 3) {
        /* FIRST:LAST (0-based, inclusive): a subset of the conversations,
         * e.g. to tune on some and check on the others. */
        unsigned long first = 0, last = 0;
        if (sscanf(argv[3], "%lu:%lu", &first, &last) != 2 ||
            first > last || last >= nlc) {
            fprintf(stderr, "bad range '%s' (FIRST:LAST, < %zu)\n",
                    argv[3], nlc);
            return 2;
        }
        lc += first;
        nlc = last - first + 1;
    }
    for (size_t i = 0; i < nlc; i++)
        turns += lc[i].n;
    {
        FILE *fp = fopen(argv[2], "rb");
        am_msg_list l = AM_MSG_LIST_INIT;
        static char buf[4 << 20];
        size_t n = fp ? fread(buf, 1, sizeof buf, fp) : 0;
        if (fp)
            fclose(fp);
        if (am_msgs_from_json(NULL, AM_FORMAT_AGENTMEM, (am_str){ buf, n },
                              &l, NULL) != AM_OK) {
            fprintf(stderr, "cannot read %s\n", argv[2]);
            return 1;
        }
        agent.t = calloc(l.count, sizeof *agent.t);
        for (size_t i = 0; i < l.count; i++)
            agent.t[agent.n++].msg = am_msg_ref(l.items[i]);
        am_msg_list_free(&l);
    }
    printf("LoCoMo (%zu conversations, %zu turns; thresholds / 10), "
           "offline summarizer\n", nlc, turns);
    printf("%-22s %9s %9s %8s %6s %18s %18s\n", "config", "tokens",
           "context", "savings", "compr", "evidence verbatim",
           "+ in summary");
    for (size_t k = 0; k < NCFG; k++) {
        am_memory_config mc = make_cfg(&configs[k], 10);
        totals t;
        memset(&t, 0, sizeof t);
        for (size_t i = 0; i < nlc; i++)
            run_conv(&lc[i], &mc, &t);
        printf("%-22s %9zu %9zu %7.1f%% %6zu %8zu/%zu %5.1f%% %11zu %5.1f%%\n",
               configs[k].name, t.added, t.context,
               100.0 * (double)t.net / (double)t.added, t.compressions,
               t.verbatim, t.ev, 100.0 * (double)t.verbatim / (double)t.ev,
               t.verbatim + t.summarized,
               100.0 * (double)(t.verbatim + t.summarized) / (double)t.ev);
    }
    printf("\nAgent session (%zu messages with tool calls; presets "
           "unscaled)\n", agent.n);
    printf("%-22s %9s %9s %8s %6s\n", "config", "tokens", "context",
           "savings", "compr");
    for (size_t k = 0; k < NCFG; k++) {
        am_memory_config mc = make_cfg(&configs[k], 1);
        totals t;
        memset(&t, 0, sizeof t);
        run_conv(&agent, &mc, &t);
        printf("%-22s %9zu %9zu %7.1f%% %6zu\n", configs[k].name, t.added,
               t.context, 100.0 * (double)t.net / (double)t.added,
               t.compressions);
    }
    return 0;
}
