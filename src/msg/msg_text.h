/* msg_text.h -- the text of a message, piece by piece (internal; for the
 * modules that count, index or summarize messages).
 *
 * What counts as a message's text is decided here once: am_msg_text joins
 * the pieces with "\n" (store, summaries), the billed token rule
 * (context/trim.c) counts each piece on its own as the providers' JSON
 * counters do. Both see the same pieces in the same order, so an edit to
 * what is text (a new part type, say) reaches both.
 */
#ifndef AM_MSG_TEXT_H
#define AM_MSG_TEXT_H

#include "agentmem/msg.h"

typedef enum am__piece {
    AM__PIECE_TEXT,          /* content, a part's text/name/json, structured
                                data, the agent thought and action input */
    AM__PIECE_CALL_NAME,     /* a tool call's name (one per call, first) */
    AM__PIECE_CALL_ARGS,     /* its arguments (JSON text) */
    AM__PIECE_AGENT_NAME,    /* an agent call's agent (one per call, first) */
    AM__PIECE_AGENT_REQUEST  /* its request */
} am__piece;

/* Called once per piece, empty ones included (an empty CALL_NAME still
 * marks a call); a non-AM_OK return stops the walk and is its result. */
typedef am_status (*am__piece_fn)(void *ctx, am__piece kind, am_str text);

/* Walk the pieces of `msg`'s text, in this order: text or JSON content;
 * text and thinking parts, tool_use name and input, tool_result text and
 * JSON (ids, signatures, images and redacted reasoning are not text); tool
 * calls; agent calls; structured data; agent thought and action input.
 * Returns AM_OK or what `fn` returned. Thread safety: as the accessors. */
am_status am__msg_pieces(const am_msg *msg, am__piece_fn fn, void *ctx);

#endif
