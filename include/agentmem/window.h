/* window.h -- the context window: trimming, summarization, and the memory
 * manager that compresses a long conversation automatically.
 *
 * Everything here works on turn groups, never on lone messages: an
 * assistant message with its tool calls (parallel calls included), every
 * tool result answering them (in any order), and reasoning/thinking that
 * precedes it are kept or dropped as one unit. A history produced here
 * never begins with a tool result and never holds a tool result without
 * its call, so it is always valid to send to a provider. Inputs are never
 * modified; outputs are lists of message references (am_msg_list), cheap
 * to build because frozen messages are shared, not copied.
 *
 * Three layers:
 *
 *   am_trim()        keep the last N / first N messages or a token budget;
 *   am_summarize()   replace all but the last N with a summary, through a
 *                    summarizer: the offline extractive one (default,
 *                    deterministic, no network) or an LLM one;
 *   am_memory        the manager: add messages one by one, get the context
 *                    to send; past the configured threshold it compresses
 *                    (sliding_window, selective or deletion, see
 *                    memconfig.h), clears old tool results, and keeps
 *                    statistics (struct, JSON, "Memory Statistics" text).
 *
 *     am_memory_opts o = am_memory_opts_default();
 *     o.config.compression_threshold = 8000;
 *     am_memory *mem = NULL;
 *     am_memory_create(&o, &mem, NULL);
 *     ... for each turn: am_memory_add(mem, msg, NULL);
 *     am_msg_list ctx = AM_MSG_LIST_INIT;
 *     am_memory_context(mem, &ctx);     // what to send to the model
 *     am_msg_list_free(&ctx);
 *     am_memory_free(mem);
 */
#ifndef AGENTMEM_WINDOW_H
#define AGENTMEM_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "memconfig.h"
#include "msg.h"
#include "providers.h"
#include "status.h"
#include "tokens.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Counting ---- */

/* How messages are counted. With a tokenizer (borrowed) a message costs
 * 3 + tokens(role) + tokens(am_msg_text) (OpenAI's chat rule; exact for
 * models with an encoding, estimated otherwise). With neither tokenizer
 * nor callback it is 3 + ceil(bytes of role and text / 4). A callback,
 * when set, wins over both. */
typedef struct am_counter {
    const am_tokenizer *tokenizer;
    size_t (*count_msg)(void *ctx, const am_msg *msg);
    void *ctx;
} am_counter;

/* Tokens of one message under `c` (NULL: the estimate), by the rule
 * OpenAI bills chat input with (the rule of
 * am_tokenizer_count_messages_json, tokens.h): 3, the role, each text
 * piece of the content (images count 0), 1 + the name when there is one,
 * and 3 + name + arguments per tool call. AM_OK or AM_ENOMEM.
 * Thread safety: safe (with a thread-safe tokenizer). */
AM_API am_status am_count_msg(const am_counter *c, const am_msg *msg,
                              size_t *out, am_error *err);

/* Tokens of a message list: the sum of am_count_msg plus 3 for the reply
 * priming (0 for an empty list, and no priming with a `count_msg`
 * callback, whose rule is the caller's). This is the one count of a list
 * used everywhere: am_trim's and am_summarize's tokens_before/after, and
 * it equals am_tokenizer_count_messages_json on the same messages in
 * OpenAI JSON. AM_OK, AM_EINVAL (NULL), AM_ENOMEM.
 * Thread safety: safe (with a thread-safe tokenizer). */
AM_API am_status am_count_msgs(const am_counter *c, const am_msg *const *msgs,
                               size_t count, size_t *out, am_error *err);

/* ---- Trimming ---- */

typedef enum am_trim_strategy {
    AM_TRIM_LAST = 0, /* keep the newest groups within the limits */
    AM_TRIM_FIRST,    /* keep the oldest groups within the limits */
    AM_TRIM_TOKENS    /* AM_TRIM_LAST with max_tokens required */
} am_trim_strategy;

typedef struct am_trim_opts {
    am_trim_strategy strategy;
    size_t max_messages;  /* 0: no message limit */
    size_t max_tokens;    /* limit on am_count_msgs of the result; 0: no
                             token limit (required for TOKENS) */
    bool preserve_system; /* keep (and count) system messages; default on */
    bool start_on_user;   /* the first non-system message must be user */
    int end_on_role;      /* am_role the history must end on; -1: any */
    /* Cut the boundary message to fit the token budget left, on a UTF-8
     * boundary (the end of it for LAST, the start for FIRST). Only a plain
     * text user/assistant message is ever cut; a group never is. */
    bool allow_partial;
    am_counter counter;
    /* With no tokenizer or callback in `counter`: count for this model
     * (a tokenizer opened for the call: exact for OpenAI models, the
     * catalog's rule for others). NULL, "" or "estimate": the estimate.
     * Opening costs a few milliseconds; for repeated calls open one
     * tokenizer (am_tokenizer_create) and pass it in `counter`. */
    const char *model;
    const am_allocator *alloc;
} am_trim_opts;

/* Defaults: LAST, no limits, preserve_system on, end_on_role -1, no
 * model (the estimate). Thread safety: safe. */
AM_API am_trim_opts am_trim_opts_default(void);

typedef struct am_trim_result {
    am_msg_list messages;  /* the trimmed history (yours: free the result) */
    size_t *dropped;       /* indices of dropped input messages, ascending */
    size_t dropped_count;
    size_t dropped_cap;
    size_t orphans;        /* tool results without a call (always dropped) */
    size_t tokens_before;  /* all input messages (am_count_msgs) */
    size_t tokens_after;   /* the trimmed history (am_count_msgs) */
    size_t partial_index;  /* input index of the cut message, or SIZE_MAX */
} am_trim_result;

#define AM_TRIM_RESULT_INIT                                             \
    { AM_MSG_LIST_INIT, NULL, 0, 0, 0, 0, 0, SIZE_MAX }

/* Trim `count` messages (borrowed; never modified) into `res` (its previous
 * contents are released first). AM_OK; AM_EINVAL (bad options: TOKENS
 * without max_tokens, end_on_role out of range); the tokenizer's error
 * for `model` (naming it); AM_ENOMEM. On failure
 * `res` is empty. Thread safety: safe (per-handle on `res`). */
AM_API am_status am_trim(const am_msg *const *msgs, size_t count,
                         const am_trim_opts *opts, am_trim_result *res,
                         am_error *err);

/* Release what `res` holds and reset it. NULL: no-op.
 * Thread safety: per-handle (res). */
AM_API void am_trim_result_free(am_trim_result *res);

/* ---- Summarizers ---- */

typedef struct am_summarizer am_summarizer;

/* The summarizer interface. `summarize` writes a summary of `msgs` into
 * `out` (replacing it) in at most `budget` tokens, merging `prev` (the
 * previous running summary; may be empty) so that a running summary is
 * updated from the new messages only. `input_limit` is the largest input
 * (in tokens) the summarizer accepts per call (0: unlimited): callers
 * split longer input into pieces. */
typedef struct am_summarizer_vtable {
    const char *name;
    am_status (*summarize)(void *ctx, am_str prev, const am_msg *const *msgs,
                           size_t count, size_t budget, am_buf *out,
                           am_error *err);
    void (*destroy)(void *ctx);
    /* Optional: tokens the summarizer has spent so far (input + output of
     * its LLM calls), for the manager's "compression cost". */
    uint64_t (*tokens_spent)(void *ctx);
    /* Optional: USD its calls have cost so far, for the manager's
     * total_cost (the LLM summarizer prices its client's model from the
     * built-in catalog). */
    double (*cost_spent)(void *ctx);
} am_summarizer_vtable;

/* Options of am_summarizer_create and am_summarizer_offline; start from
 * am_summarizer_opts_default(). */
typedef struct am_summarizer_opts {
    /* am_summarizer_create: the largest input (tokens) the summarizer
     * accepts per call (0: unlimited), as described above. */
    size_t input_limit;
    /* am_summarizer_offline: what measures the budget (copied): its
     * tokenizer when it has one, else (and when NULL) an estimate from
     * the text's length in bytes. */
    const am_counter *counter;
    /* am_summarizer_offline: importance markers, comma-separated (empty:
     * the default list). Copied. */
    am_str markers;
    /* Allocator of the summarizer and of each call's scratch. NULL: the
     * default. Borrowed: it must outlive the summarizer, and be
     * thread-safe if threads share the summarizer. */
    const am_allocator *alloc;
} am_summarizer_opts;

/* Defaults: no input limit, no counter, no markers, default allocator.
 * Thread safety: safe. */
AM_API am_summarizer_opts am_summarizer_opts_default(void);

/* Wrap a caller's implementation. `vt` is borrowed; `ctx` is destroyed
 * with vt->destroy (if set) by am_summarizer_free. `opts` may be NULL
 * (defaults); its input_limit and alloc apply (your callbacks allocate as
 * they like). *out is yours. AM_OK, AM_EINVAL (no vt or no summarize
 * callback) or AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_summarizer_create(const am_summarizer_vtable *vt,
                                      void *ctx,
                                      const am_summarizer_opts *opts,
                                      am_summarizer **out, am_error *err);

/* The offline extractive summarizer: deterministic, no network. Keeps the
 * sentences later turns are likely to need (names, numbers, dates,
 * decisions, errors, questions, importance markers from opts->markers),
 * one line per tool call and outcome, and a header with message and tool
 * counts, within the budget measured with opts->counter. `opts` may be
 * NULL (defaults); its counter, markers and alloc apply. *out is yours
 * (am_summarizer_free). AM_OK, AM_EINVAL (markers too long) or
 * AM_ENOMEM. Thread safety: safe (the summarizer too). */
AM_API am_status am_summarizer_offline(const am_summarizer_opts *opts,
                                       am_summarizer **out, am_error *err);

/* The LLM summarizer: one chat call per piece through an am_llm client
 * (providers.h; OpenAI-compatible or Anthropic), asking for a summary that
 * merges the previous one with the new messages, capped at the budget
 * (max_tokens). */
typedef struct am_llm_summarizer_opts {
    /* The summarizing model's context window in tokens; 0: from the model
     * catalog (am_models_lookup of the client's model). Input is split so
     * that no request exceeds it. */
    size_t context_tokens;
    const char *instructions; /* system prompt; NULL: the built-in one */
    /* Called with each call's usage. */
    void (*on_usage)(void *ctx, const am_llm_usage *usage);
    void *usage_ctx;
    /* When set (borrowed), each call is recorded there as a compression
     * call of the client's model (reported usage, or counted when the
     * reply had none). */
    am_token_tracker *tracker;
    /* Allocator of the summarizer and of each call's prompt and reply
     * buffers (the client allocates with its own). NULL: the default.
     * Borrowed: it must outlive the summarizer, and be thread-safe if
     * threads share it. */
    const am_allocator *alloc;
} am_llm_summarizer_opts;

/* Create an LLM summarizer over `llm` (borrowed: it must outlive the
 * summarizer). Errors of a call come back from am_summarize / the manager
 * as the client's status (AM_EAUTH, AM_ENET, AM_EPROTO for a malformed or
 * empty reply, ...), with the client's detail. Thread safety: as the
 * client (safe). */
AM_API am_status am_summarizer_llm(am_llm *llm,
                                   const am_llm_summarizer_opts *opts,
                                   am_summarizer **out, am_error *err);

/* Free a summarizer. NULL: no-op. Thread safety: unsafe. */
AM_API void am_summarizer_free(am_summarizer *s);

/* "offline", "llm" or the vtable's name (static or owned by the vtable).
 * Thread safety: safe. */
AM_API const char *am_summarizer_name(const am_summarizer *s);

/* Tokens spent so far (0 when the summarizer does not say).
 * Thread safety: as the summarizer. */
AM_API uint64_t am_summarizer_tokens_spent(const am_summarizer *s);

/* USD spent so far (0 when the summarizer does not say).
 * Thread safety: as the summarizer. */
AM_API double am_summarizer_cost_spent(const am_summarizer *s);

/* Summarize through `s`, splitting input larger than its input_limit into
 * pieces summarized in turn (each piece folded into the running summary),
 * so that no call exceeds the limit; a single message larger than a piece
 * is cut to fit. Thread safety: as the summarizer (offline: safe). */
AM_API am_status am_summarizer_run(const am_summarizer *s, am_str prev,
                                   const am_msg *const *msgs, size_t count,
                                   size_t budget, am_buf *out,
                                   am_error *err);

/* ---- summarize(messages, keep_last) ---- */

typedef struct am_summarize_opts {
    size_t keep_last;       /* newest messages kept verbatim */
    size_t budget;          /* summary tokens; 0: 30% of what it replaces,
                               at least 64 */
    bool preserve_system;   /* system messages kept, not summarized (on) */
    am_str prev_summary;    /* running summary to merge (borrowed) */
    am_counter counter;
    /* As am_trim_opts.model: count for this model when `counter` is
     * empty; NULL, "" or "estimate": the estimate. */
    const char *model;
    const am_summarizer *summarizer; /* NULL: a built-in offline one */
    const am_allocator *alloc;
} am_summarize_opts;

/* Defaults: keep_last 0, budget 0 (30%), preserve_system on, offline
 * summarizer, no model (the estimate). Thread safety: safe. */
AM_API am_summarize_opts am_summarize_opts_default(void);

typedef struct am_summarize_result {
    am_buf summary;          /* the summary text */
    am_msg_list messages;    /* system msgs + summary message + kept ones */
    size_t original_count;   /* input messages */
    size_t summarized_count; /* messages folded into the summary */
    size_t kept_count;       /* messages kept verbatim (not system) */
    size_t tokens_before, tokens_after; /* am_count_msgs of input, output */
} am_summarize_result;

#define AM_SUMMARIZE_RESULT_INIT                                        \
    { AM_BUF_INIT, AM_MSG_LIST_INIT, 0, 0, 0, 0, 0 }

/* Replace all but the last `keep_last` messages with one summary message
 * (role system, name "summary", text "[Compressed Summary] ..."). Exactly
 * `keep_last` non-system messages are kept, except that a turn group is
 * never split: when the boundary falls inside one, the whole group is
 * kept (kept_count says how many). Nothing to summarize gives the input
 * back unchanged. AM_OK, AM_EINVAL, AM_ENOMEM or the summarizer's status.
 * Thread safety: as the summarizer; per-handle on `res`. */
AM_API am_status am_summarize(const am_msg *const *msgs, size_t count,
                              const am_summarize_opts *opts,
                              am_summarize_result *res, am_error *err);

/* Release what `res` holds and reset it. NULL: no-op.
 * Thread safety: per-handle (res). */
AM_API void am_summarize_result_free(am_summarize_result *res);

/* ---- The summarization middleware ---- */

typedef struct am_summary_mw am_summary_mw;

typedef struct am_summary_mw_opts {
    size_t trigger_tokens;   /* summarize above this many tokens (0: off) */
    size_t trigger_messages; /* or above this many messages (0: off) */
    size_t keep_last;        /* default 10 */
    size_t budget;           /* summary budget (0: as am_summarize) */
    am_counter counter;
    /* With an empty `counter`: the middleware opens (and owns) a
     * tokenizer for this model at create; NULL, "" or "estimate": the
     * estimate. */
    const char *model;
    const am_summarizer *summarizer; /* borrowed; NULL: offline */
    const am_allocator *alloc;
} am_summary_mw_opts;

/* Defaults: no trigger (one must be set), keep_last 10, offline, no
 * model (the estimate). Thread safety: safe. */
AM_API am_summary_mw_opts am_summary_mw_opts_default(void);

/* Create a middleware holding a running summary; *out is yours
 * (am_summary_mw_free). The summarizer and allocator in `opts` are
 * borrowed. AM_EINVAL when neither trigger is set, AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_summary_mw_create(const am_summary_mw_opts *opts,
                                      am_summary_mw **out, am_error *err);

/* Free the middleware and its running summary. NULL: no-op.
 * Thread safety: unsafe (ends its life). */
AM_API void am_summary_mw_free(am_summary_mw *mw);

/* True when `msgs` crosses a trigger. Thread safety: per-handle. */
AM_API bool am_summary_mw_should(am_summary_mw *mw,
                                 const am_msg *const *msgs, size_t count);

/* If a trigger is crossed, summarize (merging the running summary with
 * only the newly evicted messages) into `res`; otherwise `res->messages`
 * gets the input unchanged. The input must be the history *after* the
 * previous call's output (its summary message is recognised and skipped).
 * Thread safety: per-handle. */
AM_API am_status am_summary_mw_process(am_summary_mw *mw,
                                       const am_msg *const *msgs,
                                       size_t count,
                                       am_summarize_result *res,
                                       am_error *err);

/* The running summary (owned by mw, valid until the next process call).
 * Thread safety: per-handle. */
AM_API am_str am_summary_mw_summary(const am_summary_mw *mw);

/* ---- The memory manager ---- */

typedef struct am_memory am_memory;

typedef struct am_memory_opts {
    am_memory_config config;         /* am_memory_config_default() */
    /* How messages are counted. With a tokenizer or a callback set, they
     * count (config.model then only prices usage). With both NULL (the
     * default) the manager opens and owns a tokenizer for config.model:
     * exact for OpenAI models (their tiktoken encoding), the catalog's
     * documented rule for others (e.g. 3.5 characters per token for
     * Anthropic), and the 4-bytes estimate only when config.model is ""
     * or "estimate". */
    am_counter counter;
    const am_summarizer *summarizer; /* borrowed; NULL: offline */
    const am_models *models;         /* catalog for prices; NULL: built-in */
    /* When set (borrowed): usage passed to am_memory_add is recorded there
     * for config.model, and every compression credits its savings. */
    am_token_tracker *tracker;
    const am_allocator *alloc;
    const am_clock *clock;
    /* Optional: a preservation predicate (a compressor's _should_preserve
     * override in Python frameworks), beside the marker words. The
     * selective strategy asks it about each message old enough to be
     * compressed: > 0 keeps the message (with its tool-call group, as a
     * marker word would), 0 leaves it to the built-in rules (errors,
     * importance_markers), < 0 lets it be compressed even if a rule would
     * keep it. Called on the thread of am_memory_add, inside the manager's
     * work on that call; it must not call the manager. `msg` is borrowed
     * for the call. */
    int (*should_preserve)(void *ctx, const am_msg *msg);
    void *should_preserve_ctx;
    /* With config.short_term_size 0, compression folds every message
     * into the summary, the newest group too (system messages stay when
     * config.preserve_system). Default false: the newest group (the last
     * message, with its tool calls and results) always stays verbatim.
     * For a compressor asked to compress exactly the messages it is
     * given, as a Python WorkingMemoryCompressor is. With short_term_size
     * > 0 it changes nothing. */
    bool compress_newest;
} am_memory_opts;

/* Defaults: am_memory_config_default() (model "gpt-4o-mini": exact
 * o200k_base counting), no counter (the model's tokenizer), offline
 * summarizer, built-in catalog, no tracker, the newest group kept
 * (compress_newest false). Thread safety: safe. */
AM_API am_memory_opts am_memory_opts_default(void);

/* Token usage a provider reported for one call: `input` is what it billed
 * for the context sent (the manager's context *before* this message),
 * `output` what it generated (this message). Negative: unknown. */
typedef struct am_memory_usage {
    int64_t input_tokens;
    int64_t output_tokens;
    int64_t cached_input_tokens;
} am_memory_usage;

/* What the last compression did. */
typedef struct am_compressed_memory {
    am_str summary;                /* owned by the manager; "" if deletion */
    size_t original_tokens;        /* of the messages compressed */
    size_t compressed_tokens;      /* of the summary that replaced them */
    double compression_ratio;      /* compressed / original */
    size_t original_message_count; /* messages compressed */
    am_compress_strategy strategy;
} am_compressed_memory;

typedef struct am_memory_stats {
    size_t current_tokens;       /* the context as it stands (calibrated) */
    size_t total_tokens;         /* every message ever added */
    size_t messages;             /* messages in the context */
    size_t messages_added;
    size_t compressions;
    size_t tokens_saved;         /* sum of original - compressed */
    size_t compression_cost;     /* tokens the summarizer spent (LLM) */
    int64_t net_savings;         /* saved - cost */
    double savings_percentage;   /* net / (current + net) * 100 */
    size_t tool_results_cleared;
    size_t tool_tokens_cleared;
    double calibration;          /* provider / local estimate, 1 if none */
    int64_t input_tokens_reported, output_tokens_reported;
    /* USD: the usage reported with am_memory_add priced for config.model,
     * plus what the compression calls themselves cost
     * (am_summarizer_cost_spent). */
    double total_cost;
    double compression_cost_usd; /* the compression calls' part of it */
    /* What the net savings are worth: tokens_saved at config.model's
     * input price, minus compression_cost_usd. */
    double net_cost;
    /* config.model is not in the catalog: prices are the catalog default
     * ($0.55 / $2.19 per million), so the figures are estimates. The JSON
     * and text say so and name the model. */
    bool cost_estimated;
} am_memory_stats;

/* Create a manager; *out is yours (am_memory_free). The options are
 * copied; the summarizer, tokenizer, catalog, tracker, allocator and
 * clock they point to are borrowed for the manager's life. Without a
 * counter it opens (and owns, and frees) a tokenizer for config.model
 * (am_tokenizer_create; the encoding's rank file is searched as tokens.h
 * says). The config is checked (threshold <= max context, ratio in
 * (0,1]): AM_EINVAL naming the field; a model whose rank file cannot be
 * found is AM_ENOTFOUND ("memory: cannot count tokens for model 'M':
 * rank file o200k_base.tiktoken not found (tried ...)"); AM_EIO /
 * AM_EFORMAT for an unreadable or corrupt rank file; AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_memory_create(const am_memory_opts *opts,
                                  am_memory **out, am_error *err);

/* The tokenizer the manager counts with (its own, opened for
 * config.model, or the one in opts.counter), or NULL when it counts with
 * the estimate or a callback. Owned by the manager (or borrowed from the
 * caller); valid until am_memory_free. Thread safety: safe. */
AM_API const am_tokenizer *am_memory_tokenizer(const am_memory *mem);

/* Free the manager and drop its message references (messages handed out
 * by am_memory_context stay valid). NULL: no-op. Thread safety: unsafe
 * (ends its life). */
AM_API void am_memory_free(am_memory *mem);

/* Detail of this thread's most recent failed call on `mem` (code AM_OK
 * and "" when none), owned by `mem` and valid until this thread's next
 * call on it: other threads' failures never change it. NULL `mem`: a
 * static AM_EINVAL detail. Thread safety: safe. */
AM_API const am_error *am_memory_last_error(const am_memory *mem);

/* Add `msg` (shared by reference, frozen). `usage` (may be NULL) is what
 * the provider reported for the call that produced it; it calibrates the
 * estimate for the configured model so that compression triggers where
 * the provider's count says. Past the threshold the manager compresses
 * before returning (and, past the tool-clearing trigger, clears old tool
 * results).
 *
 * config.max_context_tokens is a cap, whether compression is enabled or
 * not: past it the oldest whole turn groups go (never system messages,
 * the last group, or the group of the newest user turn), then the largest
 * plain-text messages (any role, the new one too) are cut in the middle,
 * head and tail kept around the marker "[... N tokens cut to fit the
 * context budget ...]" (N: what the whole message counted). A message
 * made of parts (Anthropic blocks) is never cut: when what must stay
 * cannot fit, the add fails with AM_ELIMIT naming both figures.
 *
 * AM_OK, AM_EINVAL (invalid message), AM_ELIMIT, AM_ENOMEM or the
 * summarizer's status; on failure the manager is as before the call,
 * except when the failure comes after a successful compression (then the
 * message and the compression stay).
 * Thread safety: safe. */
AM_API am_status am_memory_add(am_memory *mem, const am_msg *msg,
                               const am_memory_usage *usage);

/* Append the context to send (system messages, the summary, the kept
 * messages) to `out` as references. Its messages count (under the
 * manager's counter and calibration) at most config.max_context_tokens
 * in all (see am_memory_add). AM_OK or AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_memory_context(am_memory *mem, am_msg_list *out);

/* Compress now, whatever the threshold. AM_OK (also when there is nothing
 * old enough to compress). Thread safety: safe. */
AM_API am_status am_memory_compress(am_memory *mem);

/* True when the last am_memory_add compressed; the tokens it saved.
 * Thread safety: safe. */
AM_API bool am_memory_was_compressed_last(const am_memory *mem);
AM_API int64_t am_memory_last_savings(const am_memory *mem);

/* The last compression's record (false if none yet). Strings owned by the
 * manager until the next add/compress. Thread safety: safe to call; the
 * strings are borrowed, so read them only while no other thread adds or
 * compresses (a copy: am_memory_export). */
AM_API bool am_memory_compressed(const am_memory *mem,
                                 am_compressed_memory *out);

/* Fill `out` (zeros for a NULL manager). Thread safety: safe. */
AM_API void am_memory_stats_get(const am_memory *mem, am_memory_stats *out);

/* Statistics as a JSON object (the fields of am_memory_stats,
 * compression_count, "priced_as" ("catalog" or "default") and the "model"
 * priced), replacing `out`. AM_ENOMEM, or AM_EFORMAT when config.model is
 * not UTF-8. Thread safety: safe. */
AM_API am_status am_memory_stats_json(const am_memory *mem, am_buf *out);

/* Save the manager's state -- the messages of the context (as agentmem
 * JSON, with their token counts and cleared/orphan flags), the running
 * summary, the last compression record, the statistics and the
 * calibration -- as one JSON document replacing `out`. AM_OK or
 * AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_memory_export(const am_memory *mem, am_buf *out);

/* Replace the manager's state with an export (the options and config stay
 * the manager's own; the messages are counted again with the manager's
 * counter, so a session exported by a manager that estimated, or counted
 * for another model, is counted right after import). The document is
 * checked completely first: on error (AM_EFORMAT naming the field and
 * index) the manager is unchanged.
 * export -> import -> export gives the same bytes. Thread safety: safe. */
AM_API am_status am_memory_import(am_memory *mem, am_str json);

/* A human-readable statistics block, replacing `out`:
 *   --- Memory Statistics ---
 *   Total tokens: 45,234
 *   Compressions: 3
 *   Net savings: 15,678 tokens (34.7%)
 *   Total cost: $0.0234
 * Thread safety: safe. */
AM_API am_status am_memory_stats_text(const am_memory *mem, am_buf *out);

#ifdef __cplusplus
}
#endif
#endif
