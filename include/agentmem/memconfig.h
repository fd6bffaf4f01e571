/* memconfig.h -- configuration of the memory manager (context window).
 *
 * One plain struct with defaults (the "balanced" preset), three named
 * presets, a parser for `KEY=VALUE` config files such as
 *
 *     # memory.conf (see examples/context/memory.conf)
 *     MEMORY_ENABLED=true
 *     MEMORY_COMPRESSION_THRESHOLD=40000
 *     MEMORY_COMPRESSION_STRATEGY=sliding_window
 *
 * and environment-variable overrides with the same names. Unknown keys and
 * bad values are errors that name the line (or the variable). The struct
 * owns no memory: string settings live in fixed arrays inside it, so it can
 * be copied freely.
 *
 * Keys (all optional):
 *   MEMORY_PRESET                   aggressive | balanced | conservative
 *                                   (applied first, wherever it appears)
 *   MEMORY_ENABLED                  true/false
 *   MEMORY_MAX_CONTEXT_TOKENS       int > 0
 *   MEMORY_COMPRESSION_THRESHOLD    int > 0 (tokens)
 *   MEMORY_SHORT_TERM_SIZE          int >= 0 (recent messages kept verbatim)
 *   MEMORY_COMPRESSION_RATIO        real in (0, 1]
 *   MEMORY_COMPRESSION_STRATEGY     sliding_window | selective | deletion
 *   MEMORY_PRESERVE_SYSTEM_PROMPTS  true/false
 *   MEMORY_PRESERVE_TOOL_CALLS      true/false
 *   MEMORY_IMPORTANCE_MARKERS       comma-separated words
 *   MEMORY_TOOL_CLEAR_TRIGGER       int >= 0 (0: off) input tokens
 *   MEMORY_TOOL_CLEAR_KEEP          int >= 0 most recent tool uses kept
 *   MEMORY_TOOL_CLEAR_AT_LEAST      int >= 0 tokens cleared per pass
 *   MEMORY_TOOL_CLEAR_EXCLUDE       comma-separated tool names
 *   MEMORY_MODEL                    model counted for and priced (default
 *                                   gpt-4o-mini); "estimate" or empty:
 *                                   the 4-bytes-per-token estimate
 */
#ifndef AGENTMEM_MEMCONFIG_H
#define AGENTMEM_MEMCONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum am_compress_strategy {
    AM_COMPRESS_SLIDING_WINDOW = 0, /* summarize all but the recent window */
    AM_COMPRESS_SELECTIVE,          /* keep important ones, summarize rest */
    AM_COMPRESS_DELETION            /* drop old messages, no summary */
} am_compress_strategy;

#define AM_MEMCFG_TEXT_MAX 512

/* The model of am_memory_config_default(): counted exactly (o200k_base). */
#define AM_MEMORY_DEFAULT_MODEL "gpt-4o-mini"

typedef struct am_memory_config {
    bool enabled;
    size_t max_context_tokens;     /* a cap: see am_memory_add */
    size_t compression_threshold;  /* compress when context tokens exceed */
    size_t short_term_size;        /* recent messages kept verbatim */
    double compression_ratio;      /* summary budget = ratio * old tokens */
    am_compress_strategy strategy;
    bool preserve_system;
    bool preserve_tool_calls;      /* selective: keep tool calls+results */
    /* Comma-separated, case-insensitive words marking a message important
     * (selective keeps such messages verbatim). */
    char importance_markers[AM_MEMCFG_TEXT_MAX];
    /* Tool-result clearing (0 trigger: off). */
    size_t tool_clear_trigger;
    size_t tool_clear_keep;
    size_t tool_clear_at_least;
    char tool_clear_exclude[AM_MEMCFG_TEXT_MAX]; /* comma-separated names */
    /* The model the context is sent to: the manager counts with its
     * tokenizer (exact for OpenAI models, the catalog's rule for others)
     * and prices reported usage with its catalog entry. "" or "estimate":
     * count with the estimate (4 bytes per token), no price. */
    char model[128];
} am_memory_config;

/* The defaults: the "balanced" preset (threshold 40000, ratio 0.3, short
 * term 20, sliding_window, max context 100000, preserve system and tool
 * calls, markers "important,critical,remember,must,decision", clearing off,
 * model "gpt-4o-mini" so that counts are exact (o200k_base)). The presets
 * leave the model as it is.
 * Thread safety: safe. */
AM_API am_memory_config am_memory_config_default(void);

/* Overwrite the preset fields (threshold, ratio, short-term size, strategy,
 * enabled) of `cfg` with the named preset: "aggressive" (30000, 0.2, 10,
 * sliding_window), "balanced" (40000, 0.3, 20, sliding_window) or
 * "conservative" (60000, 0.5, 30, selective). Other fields are kept.
 * Returns AM_OK or AM_EINVAL naming the unknown preset; `cfg` is unchanged
 * on failure. Thread safety: per-handle (cfg). */
AM_API am_status am_memory_config_preset(am_memory_config *cfg, am_str name,
                                         am_error *err);

/* Set one key (see the list above) from its text value. `where` prefixes
 * error messages (e.g. "config line 3"); may be NULL. Returns AM_OK,
 * AM_EINVAL (unknown key) or AM_EFORMAT (bad value); `cfg` is unchanged on
 * failure. Thread safety: per-handle (cfg). */
AM_API am_status am_memory_config_set(am_memory_config *cfg, am_str key,
                                      am_str value, const char *where,
                                      am_error *err);

/* Parse config text: one KEY=VALUE per line; blank lines and lines whose
 * first non-blank character is '#' are ignored; an optional leading
 * "export " is allowed; the value may be wrapped in single or double
 * quotes; spaces around key and value are trimmed. MEMORY_PRESET is applied
 * before the other keys whatever its line. Settings are applied on top of
 * `cfg`. Errors name the line: AM_EFORMAT ("line 4: expected KEY=VALUE",
 * bad value) or AM_EINVAL (unknown key). `cfg` is unchanged on failure.
 * Thread safety: per-handle (cfg). */
AM_API am_status am_memory_config_parse(am_memory_config *cfg, am_str text,
                                        am_error *err);

/* Read and parse the file at `path` (as am_memory_config_parse; errors name
 * the path and line). AM_ENOTFOUND when it does not exist, AM_EIO when
 * it cannot be read. Thread safety:
 * per-handle (cfg). */
AM_API am_status am_memory_config_load(am_memory_config *cfg,
                                       const char *path, am_error *err);

/* Environment lookup: returns the value of `name` or NULL. */
typedef const char *(*am_getenv_fn)(void *ctx, const char *name);

/* Override `cfg` with every set environment variable named like a key
 * above (MEMORY_PRESET first). `getenv_fn` NULL: the process environment.
 * Errors name the variable; `cfg` is unchanged on failure.
 * Thread safety: per-handle (cfg); the process environment must not change
 * during the call. */
AM_API am_status am_memory_config_apply_env(am_memory_config *cfg,
                                            am_getenv_fn getenv_fn,
                                            void *ctx, am_error *err);

/* Write `cfg` as config-file text (every key, one per line) replacing the
 * contents of `out`; parsing it back gives an equal config. AM_OK or
 * AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_memory_config_format(const am_memory_config *cfg,
                                         am_buf *out);

/* ---- Finding the config file, and where each value came from ----
 *
 * Without a file named on the command line, the config file is looked up
 * in this order, and the first that exists is used (only one file is
 * read):
 *
 *   1. $AGENTMEM_CONFIG      (set but naming no file: an error, not a
 *                             silent fall-through)
 *   2. ./.agentmem/config    (relative to the working directory)
 *   3. $XDG_CONFIG_HOME/agentmem/config, or when XDG_CONFIG_HOME is unset
 *      or empty, $HOME/.config/agentmem/config
 *
 * The effective value of each key is then, from lowest to highest:
 * default < preset < config file < MEMORY_* environment variable < what
 * the caller sets itself (a command-line flag). am_memory_config_origins
 * records, for every key, which of these supplied its value. */

/* Settings a config can hold (the keys above except MEMORY_PRESET). */
#define AM_MEMCFG_NKEYS 14
#define AM_MEMCFG_SOURCE_MAX 320

typedef struct am_memory_config_origin {
    const char *key;     /* "MEMORY_MODEL"...: static, never NULL */
    /* Where the value came from: "default", "preset aggressive",
     * "/home/u/.config/agentmem/config:3",
     * "/path/config:2 (MEMORY_PRESET=aggressive)", "$MEMORY_MODEL",
     * "$MEMORY_PRESET=conservative", or the caller's own label (e.g.
     * "--strategy"). NUL-terminated, cut to fit. */
    char source[AM_MEMCFG_SOURCE_MAX];
} am_memory_config_origin;

/* Plain data, no pointers to free: copy it freely. */
typedef struct am_memory_config_origins {
    am_memory_config_origin keys[AM_MEMCFG_NKEYS]; /* in the order above */
    char file[4096];     /* the config file read; "" when none */
} am_memory_config_origins;

/* Every key from "default", no file. NULL: no-op. Thread safety: safe. */
AM_API void am_memory_config_origins_init(am_memory_config_origins *o);

/* Record that `key` now comes from `source` (copied; cut to fit), for
 * values a caller sets after am_memory_config_resolve. AM_EINVAL naming
 * the key when it is not one of the keys above (MEMORY_PRESET included:
 * record the keys it set). Thread safety: per-handle (o). */
AM_API am_status am_memory_config_origins_note(am_memory_config_origins *o,
                                               am_str key,
                                               const char *source,
                                               am_error *err);

/* The source of `key` (static "?" when unknown or `o` is NULL); owned by
 * `o`. Thread safety: safe. */
AM_API const char *am_memory_config_origin_of(
    const am_memory_config_origins *o, am_str key);

typedef struct am_memory_config_resolve_opts {
    /* A file named by the caller (e.g. --config): read instead of the
     * lookup; a missing one is an error. NULL: the lookup above. */
    const char *file;
    /* A preset applied before the file, e.g. from --preset. NULL: none. */
    const char *preset;
    /* Environment lookup for AGENTMEM_CONFIG, XDG_CONFIG_HOME, HOME and
     * the MEMORY_* keys. NULL: the process environment. */
    am_getenv_fn getenv_fn;
    void *getenv_ctx;
    /* Directory that holds .agentmem/config. NULL: the working
     * directory. */
    const char *cwd;
    bool skip_env;       /* true: no MEMORY_* overrides */
} am_memory_config_resolve_opts;

/* Find the config file as described above: on AM_OK `path` holds it, or
 * "" when none of the places has one. AM_ENOTFOUND when $AGENTMEM_CONFIG
 * names a file that does not exist, AM_ELIMIT when a path does not fit
 * in `cap`, AM_EINVAL for NULL `path`; the message names the place.
 * `opts` may be NULL (only getenv_fn, getenv_ctx and cwd are read).
 * Thread safety: safe (the environment must not change meanwhile). */
AM_API am_status am_memory_config_find(
    const am_memory_config_resolve_opts *opts, char *path, size_t cap,
    am_error *err);

/* Build the effective configuration into *cfg: the defaults, then
 * opts->preset, then the file (opts->file or the lookup), then the
 * MEMORY_* environment variables, recording in `origins` (may be NULL)
 * where each value came from. Errors are those of am_memory_config_find,
 * am_memory_config_load (AM_ENOTFOUND for a named file that is missing,
 * AM_EFORMAT/AM_EINVAL naming the path and line) and
 * am_memory_config_apply_env (naming the variable); on failure *cfg and
 * *origins are unchanged. Thread safety: per-handle (cfg, origins). */
AM_API am_status am_memory_config_resolve(
    am_memory_config *cfg, const am_memory_config_resolve_opts *opts,
    am_memory_config_origins *origins, am_error *err);

/* Write `cfg` as a table for people: one "KEY=value" per key (as
 * am_memory_config_format) followed by "  # source" from `o`, after a
 * first line naming the file read ("# file: PATH" or "# file: none").
 * Replaces `out`. AM_OK, AM_EINVAL (NULL) or AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_memory_config_show(const am_memory_config *cfg,
                                       const am_memory_config_origins *o,
                                       am_buf *out);

/* "sliding_window", "selective" or "deletion"; "?" out of range (static,
 * never NULL). Thread safety: safe. */
AM_API const char *am_compress_strategy_name(am_compress_strategy s);

#ifdef __cplusplus
}
#endif
#endif
