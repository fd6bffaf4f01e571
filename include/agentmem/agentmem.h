/* agentmem.h -- umbrella header: includes every public header.
 *
 * agentmem is fast, embeddable memory for LLM agents: messages and
 * conversations, exact token counts, context-window management, a
 * persistent long-term store with search, and hierarchical memory tiers.
 * See README.md for a tour and each header for its part of the API.
 */
#ifndef AGENTMEM_H
#define AGENTMEM_H

#include "version.h"
#include "status.h"
#include "alloc.h"
#include "clock.h"
#include "buf.h"
#include "data.h"
#include "encrypt.h"
#include "embed.h"
#include "msg.h"
#include "conv.h"
#include "tokens.h"
#include "tiers.h"
#include "memconfig.h"
#include "window.h"
#include "react.h"
#include "sessions.h"
#include "providers.h"
#include "store.h"
#include "recall.h"
#include "memtool.h"

#endif
