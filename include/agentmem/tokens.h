/* tokens.h -- exact token counting: tiktoken-compatible BPE encodings, the
 * model catalog, message counting and token/cost tracking.
 *
 * Three layers, from the bottom:
 *
 *   am_encoding   one BPE encoding (cl100k_base, o200k_base, p50k_base,
 *                 r50k_base) loaded from its .tiktoken rank file. Gives the
 *                 same ids as OpenAI's tiktoken for every input. Its tables
 *                 are immutable once opened, and its piece memo is
 *                 try-locked: share one between all threads.
 *
 *   am_models     the model catalog: which provider, tokenizer (an exact
 *                 encoding, or an estimation rule such as 3.5 characters per
 *                 token for Anthropic), context window, maximum output and
 *                 prices for a model name. Built in (src/tokens/models.json
 *                 is compiled in); users add their own JSON file.
 *
 *   am_tokenizer  "count tokens for model M": a catalog entry plus its
 *                 encoding (or its estimation rule). Counts strings and
 *                 message lists the way the provider bills them.
 *
 * and am_token_tracker, which records each LLM call's usage and cost.
 *
 *     am_encoding *enc = NULL;
 *     size_t n = 0;
 *     if (am_encoding_create("o200k_base", NULL, &enc, &err) == AM_OK &&
 *         am_encoding_count(enc, AM_STR("hello world"), NULL, &n, &err)
 *             == AM_OK)
 *         printf("%zu tokens\n", n);                       // 2
 *     am_encoding_free(enc);
 *
 * Rank files: am_encoding_opts.rank_file when set (an explicit file), else
 * <name>.tiktoken found through the search order of every data file
 * (data.h), with am_encoding_opts.data_dir tried first.
 */
#ifndef AGENTMEM_TOKENS_H
#define AGENTMEM_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "buf.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== Token id arrays ==== */

/* A caller-owned, growable array of token ids. Functions that produce ids
 * append to it; reuse it across calls (set count = 0) so that steady-state
 * use does not allocate. */
typedef struct am_tokens {
    uint32_t *ids;
    size_t count;
    size_t cap;
    const am_allocator *alloc; /* NULL: am_allocator_default() */
} am_tokens;

#define AM_TOKENS_INIT { NULL, 0, 0, NULL }

/* Release the array and reset it to AM_TOKENS_INIT (keeping `alloc`).
 * NULL: no-op. Thread safety: per-handle. */
AM_API void am_tokens_free(am_tokens *toks);

/* ==== Encodings ==== */

typedef struct am_encoding am_encoding;

typedef struct am_encoding_opts {
    /* An explicit .tiktoken rank file; NULL: search for <name>.tiktoken. */
    const char *rank_file;
    /* A directory searched first for <name>.tiktoken; NULL: skip. */
    const char *data_dir;
    /* NULL: am_allocator_default(). Must be thread-safe if the encoding is
     * shared between threads and used to encode pieces longer than 256
     * bytes (those allocate work space). The piece memo is allocated
     * once, under its lock, by the first call that uses it. */
    const am_allocator *alloc;
    /* AM_ENCODING_NO_CACHE: neither read nor write the binary cache.
     * AM_ENCODING_NO_MEMO: no piece memo (below). */
    unsigned flags;
    /* The most entries the piece memo grows to, rounded up to a power of
     * two of at least 1024 (0: 65536, 6 MB, as a default am_token_cache;
     * at most 1048576, 96 MB). */
    size_t memo_entries;
} am_encoding_opts;

/* Open parses the rank file once and then keeps its finished tables in a
 * binary cache next to it, <rank file>.bin (written when the directory is
 * writable; checked against the rank file's size and time and a payload
 * checksum), so that later opens take milliseconds: they map the file
 * read-only and use the tables in place, shared with every other process
 * that has the encoding open. This flag turns that off. */
#define AM_ENCODING_NO_CACHE (1u << 0)

/* The piece memo. An agent counts the same messages again every turn, so
 * by default the encoding keeps what it learned across calls: one
 * am_token_cache of its own (pieces of up to 44 bytes with their ids or
 * count, their bytes kept and compared on every hit, so a hit is exact),
 * used by am_encoding_count and am_encoding_encode (and so by
 * am_tokenizer_count, am_count_msg and the context window) whenever the
 * caller passes no am_encode_opts.cache. Opening allocates no table: the
 * first such call makes one of 1024 entries (96 bytes each, on the
 * encoding's allocator), and it grows fourfold when it has stored as many
 * pieces as it has entries, never beyond memo_entries (6 MB by default);
 * a text of 256 KB or more grows it first to about one entry per 32
 * bytes. It is freed with the encoding. o200k_base with a full memo was
 * 17 MB resident after counting 3 MB of text (docs/BENCHMARKS.md). A
 * batch on several threads also keeps a side table for each of its first
 * two threads (made by the first such batch, 1024 entries, growing up to
 * an eighth of memo_entries: 8,192 entries, 800 KB each by default).
 *
 * Threads: a call takes the memo with a try-lock for the whole call; when
 * another thread holds it, the call runs without it, exactly as with this
 * flag, and never waits, so threads sharing the encoding do not
 * serialize (the encoding stays safe from any number of threads). A batch
 * takes it the same way for the whole batch (other calls meanwhile run
 * without it). On one thread the batch uses it as a loop of calls would.
 * On several, every thread reads it and none writes it; each of the first
 * two threads puts the pieces it found nowhere in its side table, and
 * the calling thread copies them into the memo once the others are done,
 * so every thread counts as warm as one thread would, and the next call
 * or batch finds what this one learned. (A memo that has stored nothing
 * yet is instead filled by the calling thread while the others use their
 * sides.) Further threads read the memo and keep nothing. When the memo
 * cannot be allocated, calls run without it (not an error) and try again
 * next time.
 *
 * Results are identical with the memo, without it and with a caller's
 * cache. This flag turns it off: every call then starts cold and the
 * encoding holds no state that calls change. */
#define AM_ENCODING_NO_MEMO (1u << 1)

/* Defaults: search path only, default allocator, binary cache and piece
 * memo on (65536 entries). Thread safety: safe. */
AM_API am_encoding_opts am_encoding_opts_default(void);

/* Create encoding `name` ("cl100k_base", "o200k_base", "p50k_base" or
 * "r50k_base"): read its rank file (see the search path above) and build
 * the lookup tables. `opts` may be NULL. The result is yours (free it with
 * am_encoding_free); its tables are immutable and its piece memo is
 * try-locked (AM_ENCODING_NO_MEMO), so every function taking a const
 * am_encoding * may be called from any number of threads at once. Loading
 * allocates no memo: the first call that uses it does.
 *
 * Errors: AM_EINVAL (NULL argument, memo_entries over 1048576),
 * AM_ENOTFOUND (unknown encoding name,
 * or no rank file anywhere on the search path; the message lists the places
 * tried), AM_EIO (unreadable file), AM_ELIMIT (a rank file over 64 MB, or
 * one that never ends such as /dev/zero), AM_EFORMAT (corrupt rank file:
 * the message names the file and line), AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_encoding_create(const char *name,
                                    const am_encoding_opts *opts,
                                    am_encoding **out, am_error *err);

/* Free an encoding. NULL: no-op. No other thread may still use it.
 * Thread safety: unsafe (ends the encoding's life). */
AM_API void am_encoding_free(am_encoding *enc);

/* The encoding's name, e.g. "o200k_base". Owned by `enc`.
 * Thread safety: safe. */
AM_API const char *am_encoding_name(const am_encoding *enc);

/* One more than the largest token id, special tokens included (tiktoken's
 * n_vocab). Thread safety: safe. */
AM_API size_t am_encoding_vocab_size(const am_encoding *enc);

/* Special-token handling, as tiktoken offers it. The zero value (or a NULL
 * am_encode_opts) treats special-token text such as "<|endoftext|>" as
 * ordinary text, like tiktoken's encode_ordinary. */
enum {
    /* Every special token of the encoding is allowed: its text becomes its
     * id. */
    AM_SPECIAL_ALLOW_ALL = 1u << 0,
    /* A special token that is not allowed is an error (AM_EINVAL naming the
     * token and its byte offset) instead of text, like tiktoken's default
     * disallowed_special="all". */
    AM_SPECIAL_DISALLOWED_ERROR = 1u << 1
};

typedef struct am_token_cache am_token_cache;

typedef struct am_encode_opts {
    unsigned flags;         /* AM_SPECIAL_* */
    const am_str *allowed;  /* special tokens allowed (borrowed), e.g.
                               AM_STR("<|endoftext|>") */
    size_t allowed_count;
    /* Optional cache of pieces kept across calls (see
     * am_token_cache_create); NULL: the encoding's piece memo (see
     * AM_ENCODING_NO_MEMO) when it is on and free, else each call caches
     * only within itself. */
    am_token_cache *cache;
} am_encode_opts;

typedef struct am_token_cache_opts {
    size_t entries;            /* about this many (0: 65536; 96 bytes each) */
    const am_allocator *alloc; /* NULL: am_allocator_default() */
} am_token_cache_opts;

/* Defaults: 65536 entries, default allocator. Thread safety: safe. */
AM_API am_token_cache_opts am_token_cache_opts_default(void);

/* Create a cache of recently encoded pieces for `enc` (borrowed: keep it
 * alive while the cache lives), sized and allocated as `opts` says (NULL:
 * defaults). Passing it in am_encode_opts.cache makes repeated words
 * across calls cost a table lookup instead of a merge; results are
 * identical with or without it (a hit compares the piece's bytes). Yours:
 * am_token_cache_free. Errors: AM_EINVAL, AM_ENOMEM.
 * Thread safety: per-handle (one cache per thread; the encoding stays
 * shared). */
AM_API am_status am_token_cache_create(const am_encoding *enc,
                                       const am_token_cache_opts *opts,
                                       am_token_cache **out, am_error *err);

/* NULL: no-op. Thread safety: unsafe (ends its life). */
AM_API void am_token_cache_free(am_token_cache *cache);

/* Encode `text` and append its token ids to `out`. `opts` may be NULL
 * (special tokens are text). Text is taken as UTF-8; a byte that is not
 * part of valid UTF-8 is treated as a symbol character of its own (tiktoken
 * only accepts valid Unicode, so it has no opinion there).
 *
 * Errors: AM_EINVAL (NULL argument, an allowed name that is not a special
 * token of this encoding, or a disallowed special token in `text` under
 * AM_SPECIAL_DISALLOWED_ERROR), AM_ENOMEM. On failure `out` keeps its old
 * count. Thread safety: safe (enc); per-handle (out). */
AM_API am_status am_encoding_encode(const am_encoding *enc, am_str text,
                                    const am_encode_opts *opts,
                                    am_tokens *out, am_error *err);

/* Count the tokens am_encoding_encode would produce, without building the
 * id array. Allocates nothing, except the encoding's piece memo on first
 * use (see AM_ENCODING_NO_MEMO), work space for a single pre-token longer
 * than 256 bytes and a piece cache for texts of 256 KB or more (without
 * memory for the memo or the cache it counts without them). Errors as for
 * am_encoding_encode. Thread safety: safe. */
AM_API am_status am_encoding_count(const am_encoding *enc, am_str text,
                                   const am_encode_opts *opts,
                                   size_t *count, am_error *err);

/* ==== Batches ==== */

/* Count the tokens of texts[0..count) into counts[0..count), exactly as
 * am_encoding_count would one text at a time with the same `opts` (may be
 * NULL), on `threads` threads: the calling thread and threads - 1 that the
 * call starts and joins before it returns (0: one per online CPU; at most
 * 256; never more than there are texts, nor more than one per 64 KB of
 * text beyond the first, since starting a thread costs about as much as
 * counting a few KB). Threads claim blocks of consecutive texts as they
 * become free, smaller blocks as the batch runs out, so uneven texts
 * balance out and the threads finish together; a text is never split, so
 * one huge text runs on one thread. With
 * opts->cache, the calling thread uses that cache and every other thread a
 * cache of the same size that lives for the call; without, the threads
 * share the encoding's piece memo, held for the whole call (see
 * AM_ENCODING_NO_MEMO). Results are the same with or without any of
 * them. A thread that cannot be started is not an error: the
 * others do its share.
 *
 * The texts are borrowed for the call. Errors: AM_EINVAL (NULL argument,
 * too many threads, a text with a NULL ptr and a nonzero len, the cache of
 * another encoding, or what am_encoding_count refuses for some text: the
 * message names the lowest failing index, e.g. "texts[21]: disallowed
 * special token ..."), AM_ENOMEM. Every text is tried even after one
 * fails; counts[i] is 0 for a text that failed and its count otherwise.
 * Thread safety: safe (enc); the encoding's allocator must be thread-safe
 * when threads > 1 (pieces over 256 bytes and texts of 256 KB or more
 * allocate work space). */
AM_API am_status am_encoding_count_batch(const am_encoding *enc,
                                         const am_str *texts, size_t count,
                                         const am_encode_opts *opts,
                                         size_t threads, size_t *counts,
                                         am_error *err);

/* Encode texts[0..count) and append the ids of texts[i] to outs[i] (count
 * distinct arrays, caller-owned), exactly as am_encoding_encode would one
 * text at a time; threads, balancing, caches and errors as for
 * am_encoding_count_batch. On failure every outs[i] keeps its old count
 * (its capacity may have grown). The arrays' allocators must be
 * thread-safe when threads > 1. Thread safety: safe (enc); per-handle
 * (outs). */
AM_API am_status am_encoding_encode_batch(const am_encoding *enc,
                                          const am_str *texts, size_t count,
                                          const am_encode_opts *opts,
                                          size_t threads, am_tokens *outs,
                                          am_error *err);

/* Append the bytes of tokens `ids[0..count)` to `out`. The bytes of one
 * token may be part of a UTF-8 character, so the result is only valid UTF-8
 * when the ids are a whole encoding. Errors: AM_EINVAL (NULL argument, or
 * an id that is not a token: the message names the index and id),
 * AM_ENOMEM; on failure `out` keeps its old length.
 * Thread safety: safe (enc); per-handle (out). */
AM_API am_status am_encoding_decode(const am_encoding *enc,
                                    const uint32_t *ids, size_t count,
                                    am_buf *out, am_error *err);

/* The bytes of token `id` (borrowed from `enc`, not NUL-terminated).
 * Returns false when `id` is not a token. Thread safety: safe. */
AM_API bool am_encoding_token_bytes(const am_encoding *enc, uint32_t id,
                                    am_str *bytes);

/* The id of special token `text` (e.g. "<|endoftext|>"). Returns false if
 * the encoding has no such special token. Thread safety: safe. */
AM_API bool am_encoding_special_id(const am_encoding *enc, am_str text,
                                   uint32_t *id);

/* The Unicode version of the pre-tokenizer's character classes, "16.0.0",
 * the version the reference tiktoken 1.0.22 uses. Static.
 * Thread safety: safe. */
AM_API const char *am_tokens_unicode_version(void);

/* A fast approximate count with no tables: about one token per 4 bytes of
 * text (ceil(len / 4)). For when exactness does not matter.
 * Thread safety: safe. */
AM_API size_t am_tokens_approx(am_str text);


/* ==== Model catalog ==== */

/* What the catalog knows about one model. Strings are owned by the catalog
 * (valid until it is freed). Prices are USD per million tokens. */
typedef struct am_model_info {
    const char *name;       /* the catalog entry (exact name or prefix) */
    const char *provider;   /* "openai", "anthropic", "google", "meta", ... */
    const char *encoding;   /* exact tiktoken encoding, or NULL: estimated */
    double chars_per_token; /* estimation rule when encoding is NULL */
    int64_t context_window; /* tokens */
    int64_t max_output;     /* tokens */
    double input_per_mtok;
    double output_per_mtok;
    double cached_input_per_mtok;
    bool known;             /* false: unknown model, catalog defaults */
    /* Where the figures come from and when they were last compared with
     * that source ("YYYY-MM-DD"), separately for the prices and for the
     * limits (context_window, max_output), since one provider page often
     * has only one of them. A source without a date names the page to
     * check against, but the figure has not been compared with it: treat
     * it as approximate. NULL: no source recorded (self-hosted models, user
     * entries without one). A catalog file may set these four fields per
     * entry; a date that is not YYYY-MM-DD, or a date without its source,
     * is AM_EFORMAT naming the entry. */
    const char *price_source;
    const char *price_checked;
    const char *limits_source;
    const char *limits_checked;
} am_model_info;

typedef struct am_models am_models;

typedef struct am_models_opts {
    /* A JSON file of entries in the format of models.json, loaded after
     * the built-in ones (its entries win over built-in entries of the same
     * name); NULL: built-in entries only. */
    const char *user_file;
    const am_allocator *alloc; /* NULL: am_allocator_default() */
} am_models_opts;

/* Defaults: no user file, default allocator. Thread safety: safe. */
AM_API am_models_opts am_models_opts_default(void);

/* Create a catalog holding the built-in entries (src/tokens/models.json,
 * compiled into the library) and those of opts->user_file (`opts` NULL:
 * defaults). The result is yours: am_models_free.
 * On failure *out is NULL. Errors: AM_EINVAL (NULL out), AM_ENOTFOUND (no
 * user file at that path), AM_EIO, AM_EFORMAT (naming the file, entry
 * index and field), AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_models_create(const am_models_opts *opts,
                                  am_models **out, am_error *err);

/* Add the entries of JSON file `path` (same format as models.json: an
 * object with a "models" array, optional "defaults"). On failure the
 * catalog is unchanged and the detail is in am_models_last_error.
 * Errors: AM_EINVAL (NULL models or path), then as am_models_create.
 * Thread safety: per-handle (no lookups may run concurrently). */
AM_API am_status am_models_load_file(am_models *models, const char *path);

/* Free a catalog. NULL: no-op. Thread safety: unsafe (ends its life). */
AM_API void am_models_free(am_models *models);

/* Look up `model`: an exact entry name wins, else the longest entry marked
 * "prefix" that the name starts with (so "gpt-4o-mini-2024-07-18" finds
 * "gpt-4o-mini"). An unknown model gets the catalog's documented defaults
 * (estimated at 4 characters per token, 8192-token window, priced at the
 * default of $0.55 input / $2.19 output per million tokens, so a
 * cost is an estimate rather than zero) with known = false, and the call
 * returns false. A NULL `models` uses a
 * built-in catalog parsed on first use. Thread safety: safe. */
AM_API bool am_models_lookup(const am_models *models, am_str model,
                             am_model_info *out);

/* Number of entries, and entry i (0-based; false when out of range), for
 * listing. Thread safety: safe. */
AM_API size_t am_models_count(const am_models *models);
AM_API bool am_models_at(const am_models *models, size_t i,
                         am_model_info *out);

/* Detail of the last failed call on `models`. Thread safety: per-handle. */
AM_API const am_error *am_models_last_error(const am_models *models);

/* The cost in USD of a call: input tokens (of which `cached_input` were
 * billed at the cached-input price) and output tokens.
 * Thread safety: safe. */
AM_API double am_model_cost(const am_model_info *info, int64_t input,
                            int64_t cached_input, int64_t output);

/* ==== Tokenizer: counting for a model ==== */

typedef struct am_tokenizer am_tokenizer;

typedef struct am_tokenizer_opts {
    /* Use this encoding whatever the model says (e.g. "cl100k_base"). */
    const char *encoding_name;
    /* A pre-opened encoding to use when the model needs that encoding
     * (borrowed: keep it alive while the tokenizer lives). Lets many
     * tokenizers share one loaded table. */
    const am_encoding *encoding;
    const am_models *models;  /* catalog; NULL: the built-in one */
    const char *data_dir;     /* where rank files are, see the search path */
    const am_allocator *alloc;
} am_tokenizer_opts;

/* Defaults: catalog lookup, built-in catalog. Thread safety: safe. */
AM_API am_tokenizer_opts am_tokenizer_opts_default(void);

/* Open a tokenizer for `model` (e.g. "gpt-4o", "claude-sonnet-4-20250514").
 * The catalog decides the tokenizer: an OpenAI model gets its exact
 * encoding (opened here unless opts->encoding fits), any other model its
 * estimation rule. An empty model name with no encoding_name means
 * o200k_base. An unknown model gets the catalog defaults (estimated).
 * The result is yours (am_tokenizer_free) and immutable: share it
 * between threads. Errors as am_encoding_create. Thread safety: safe. */
AM_API am_status am_tokenizer_create(am_str model,
                                     const am_tokenizer_opts *opts,
                                     am_tokenizer **out, am_error *err);

/* Free a tokenizer (not a borrowed encoding). NULL: no-op.
 * Thread safety: unsafe (ends its life). */
AM_API void am_tokenizer_free(am_tokenizer *tz);

/* True when counts are exact (an encoding), false when estimated.
 * Thread safety: safe. */
AM_API bool am_tokenizer_is_exact(const am_tokenizer *tz);

/* The model name the tokenizer was opened for, cut to 127 bytes (or the
 * encoding name when it was opened without one). Owned by `tz`.
 * Thread safety: safe. */
AM_API const char *am_tokenizer_model_name(const am_tokenizer *tz);

/* The model's catalog entry (copied into *out). Thread safety: safe. */
AM_API void am_tokenizer_model(const am_tokenizer *tz, am_model_info *out);

/* The model's context window in tokens. Thread safety: safe. */
AM_API int64_t am_tokenizer_context_window(const am_tokenizer *tz);

/* The encoding, or NULL when the tokenizer estimates. Owned by `tz` (or
 * borrowed from the opts). Thread safety: safe. */
AM_API const am_encoding *am_tokenizer_encoding(const am_tokenizer *tz);

/* Count the tokens of `text`: exact with an encoding (see
 * am_encoding_count; `opts` may be NULL), else ceil(characters /
 * chars_per_token) counting UTF-8 characters. Thread safety: safe. */
AM_API am_status am_tokenizer_count(const am_tokenizer *tz, am_str text,
                                    const am_encode_opts *opts,
                                    size_t *count, am_error *err);

/* Encode / decode with the tokenizer's encoding. AM_EUNSUPPORTED when the
 * tokenizer only estimates. Otherwise as am_encoding_encode/decode.
 * Thread safety: safe (tz); per-handle (out). */
AM_API am_status am_tokenizer_encode(const am_tokenizer *tz, am_str text,
                                     const am_encode_opts *opts,
                                     am_tokens *out, am_error *err);
AM_API am_status am_tokenizer_decode(const am_tokenizer *tz,
                                     const uint32_t *ids, size_t count,
                                     am_buf *out, am_error *err);

/* One chat message for counting: role, content and optional name (empty
 * ptr/len = none), all borrowed. */
typedef struct am_token_msg {
    am_str role;
    am_str content;
    am_str name;
} am_token_msg;

/* Count a message list the way OpenAI bills chat input: every message
 * costs 3 tokens plus the tokens of its role, content and name (+1 when a
 * name is present), and the reply is primed with 3 more (OpenAI cookbook,
 * "How to count tokens with tiktoken"; exact for current chat models up to
 * a few tokens for images, tools and audio). For estimated models the same
 * structure is applied to estimated counts. Special-token text in messages
 * counts as text. Thread safety: safe. */
AM_API am_status am_tokenizer_count_messages(const am_tokenizer *tz,
                                             const am_token_msg *msgs,
                                             size_t count, size_t *total,
                                             am_error *err);

/* The same for messages in OpenAI chat format: a `messages` array or a
 * request object holding one ([{"role":..., "content": "..." or
 * [{"type":"text","text":...}], "name":..., "tool_calls":[{"id":...,
 * "function":{"name","arguments"}}]}, ...]). The JSON is read by the
 * message module's reader (am_msgs_from_json with AM_FORMAT_OPENAI, no
 * size limit) and each message counted by the rule am_count_msg applies
 * (window.h): 3, the role, 1 + the name, each piece of its text (content,
 * text and refusal parts, reasoning_content and reasoning items), and for
 * each tool call 3 plus its name and arguments; image parts count 0.
 * Nothing is kept: the messages live on the tokenizer's allocator for the
 * call. Errors: what the reader refuses (AM_EFORMAT naming the message
 * index, the field and the byte: bad JSON, an unknown field, role or part
 * type; AM_EINVAL for a tool message without tool_call_id), AM_EINVAL for
 * NULL arguments, AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_tokenizer_count_messages_json(const am_tokenizer *tz,
                                                  am_str json, size_t *total,
                                                  am_error *err);

/* Estimated tokens of a JSON array of tool definitions in OpenAI format
 * ([{"type":"function","function":{"name","description","parameters"}}]):
 * the tokens of each name, description and compact JSON parameters, plus
 * 8 per tool and 12 for the list (an estimate: OpenAI does not publish
 * the exact rendering); an empty list is 0 (no tools are sent).
 * Errors: AM_EFORMAT (not a JSON array, a tool without a string name),
 * AM_EINVAL (NULL argument), AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_tokenizer_count_tools_json(const am_tokenizer *tz,
                                               am_str json, size_t *total,
                                               am_error *err);


/* ==== Token tracker ==== */

/* Records each LLM call's token usage and cost, and the tokens that
 * compression saved. Costs come from the model catalog. */
typedef struct am_token_tracker am_token_tracker;

/* Statistics, as a struct (am_token_tracker_stats) and as JSON
 * (am_token_tracker_stats_json). Money is USD. */
typedef struct am_tracker_stats {
    int64_t calls;              /* LLM calls recorded */
    int64_t reported_calls;     /* ... with usage reported by the provider */
    int64_t estimated_calls;    /* ... with usage estimated (counted) */
    int64_t unknown_model_calls;/* ... priced with catalog defaults */
    int64_t input_tokens;       /* including cached input */
    int64_t cached_input_tokens;
    int64_t output_tokens;
    int64_t total_tokens;       /* input + output */
    double cost;                /* all calls, compression calls included */
    int64_t tokens_saved;       /* credited by compression */
    double savings;             /* what the saved tokens would have cost */
    int64_t compression_tokens; /* spent by calls flagged as compression */
    double compression_cost;
    int64_t net_tokens_saved;   /* tokens_saved - compression_tokens */
    double net_savings;         /* savings - compression_cost */
    double savings_percent;     /* 100 * net_tokens_saved / (input +
                                   saved); 0 before anything is recorded */
    double budget;              /* 0: none */
    int64_t budget_tokens;      /* 0: none */
    bool over_budget;           /* cost > budget or total > budget_tokens */
    /* The part of `cost` priced at the catalog's default because the model
     * was unknown: an estimate. The JSON names each such model (its row in
     * "models" has "known":false and "priced_as":"default"). */
    double estimated_cost;
} am_tracker_stats;

/* Called once, from inside the am_token_tracker_record call that first
 * takes the totals over a budget, with the statistics at that moment
 * (once more after each am_token_tracker_reset). */
typedef void (*am_budget_fn)(void *ctx, const am_tracker_stats *stats);

typedef struct am_tracker_opts {
    const am_models *models; /* borrowed; NULL: the built-in catalog */
    double budget;           /* USD; 0: no money budget */
    int64_t budget_tokens;   /* 0: no token budget */
    am_budget_fn on_budget;  /* may be NULL */
    void *on_budget_ctx;
    const am_allocator *alloc;
} am_tracker_opts;

/* Defaults: built-in catalog, no budget. Thread safety: safe. */
AM_API am_tracker_opts am_tracker_opts_default(void);

/* One LLM call as the tracker records it (am_llm_usage in providers.h is
 * what a provider reported; the caller copies it here with the model). */
typedef struct am_usage_record {
    am_str model;                /* e.g. "gpt-4o-mini" (copied) */
    int64_t input_tokens;        /* prompt tokens, cached ones included */
    int64_t cached_input_tokens; /* of which served from the cache */
    int64_t output_tokens;
    bool estimated;   /* false: reported by the provider; true: counted */
    bool compression; /* the call was made to compress (summarize) */
} am_usage_record;

/* Create a tracker; yours, free with am_token_tracker_free. Errors:
 * AM_EINVAL (NULL out, negative budget or budget_tokens), AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_token_tracker_create(const am_tracker_opts *opts,
                                         am_token_tracker **out,
                                         am_error *err);

/* NULL: no-op. Thread safety: unsafe (ends its life). */
AM_API void am_token_tracker_free(am_token_tracker *t);

/* Record one call. The cost is priced from the catalog entry of the model
 * (an unknown model costs the catalog defaults, counts in
 * unknown_model_calls and adds to estimated_cost). Errors: AM_EINVAL (negative counts, cached >
 * input, empty model name; the tracker is unchanged), AM_ENOMEM.
 * Thread safety: safe (an internal mutex). */
AM_API am_status am_token_tracker_record(am_token_tracker *t,
                                         const am_usage_record *usage);

/* Record a call whose usage was not reported: count `input` and `output`
 * with `tz` (exact or estimated by its model) and record them as
 * estimated for tz's model. Thread safety: safe. */
AM_API am_status am_token_tracker_record_text(am_token_tracker *t,
                                              const am_tokenizer *tz,
                                              am_str input, am_str output);

/* Credit `tokens` input tokens saved by compression for `model` (their
 * input price is the money saved). Errors: AM_EINVAL (negative).
 * Thread safety: safe. */
AM_API am_status am_token_tracker_credit_savings(am_token_tracker *t,
                                                 am_str model,
                                                 int64_t tokens);

/* Copy the statistics into *out. Thread safety: safe. */
AM_API void am_token_tracker_stats(am_token_tracker *t,
                                   am_tracker_stats *out);

/* Replace `out` with the statistics as a JSON object (the fields of
 * am_tracker_stats plus "models": per-model calls, tokens and cost).
 * Errors: AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_token_tracker_stats_json(am_token_tracker *t,
                                             am_buf *out);

/* Forget everything recorded (the budget stays). Thread safety: safe. */
AM_API void am_token_tracker_reset(am_token_tracker *t);

/* Detail of the last failed call. Thread safety: per-handle. */
AM_API const am_error *am_token_tracker_last_error(
    const am_token_tracker *t);

#ifdef __cplusplus
}
#endif
#endif
