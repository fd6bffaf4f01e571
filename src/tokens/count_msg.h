/* count_msg.h -- the billed token count of one message (internal; for the
 * modules that budget a context window: context/trim.c).
 *
 * The one rule by which agentmem counts a chat message, written once in
 * tokens/tokenizer.c: am_tokenizer_count_messages_json reads its JSON with
 * the message module's OpenAI reader and adds up this count per message,
 * and the context window (am_count_msg, am_trim) counts its am_msg values
 * with it, so a list's figure is the same on both paths.
 */
#ifndef AM_TOKENS_COUNT_MSG_H
#define AM_TOKENS_COUNT_MSG_H

#include <stddef.h>

#include "agentmem/msg.h"
#include "agentmem/tokens.h"

/* The billed count of `msg` without the list's reply priming: 3 tokens,
 * the role, 1 + the name when there is one, every piece of the message's
 * text as msg/msg_text.h walks it, each counted on its own (string
 * content, text and thinking parts, tool_use name and input, tool_result
 * content, agent calls, structured data; images count 0), and 3 more per
 * tool call. `tz` counts each piece (exactly, or by its model's
 * characters per token); NULL counts 4 bytes per token. Errors: what
 * am_tokenizer_count returns, with `err` set. */
am_status am__tokens_count_msg(const am_tokenizer *tz, const am_msg *msg,
                               size_t *out, am_error *err);

#endif
