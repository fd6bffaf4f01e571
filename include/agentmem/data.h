/* data.h -- where agentmem finds its data files.
 *
 * The tokenizer's rank files (<name>.tiktoken) and the store's word vectors
 * (wordvec-sg100.bin) are data files, read at run time. Every one of them
 * is found through the same search order, first hit wins:
 *
 *   1. an explicit directory given by the caller (for example
 *      am_encoding_opts.data_dir), when there is one;
 *   2. next to the library itself: the data directory of the install the
 *      running library (or the program it is linked into) belongs to,
 *      resolved at run time, so that a moved install keeps working;
 *   3. $AGENTMEM_DATA_DIR;
 *   4. the data directory of the configured install prefix
 *      (<prefix>/share/agentmem);
 *   5. for a build that was never installed, the build tree's data/ (the
 *      rank files, extracted from the source at build time), then the
 *      source tree's data/ (the word vectors made by scripts/setup).
 *
 * With $AGENTMEM_DATA_ONLY set (to anything but ""), only 1 and 3 are
 * searched: the places you named, so that a deployment (or a test of what
 * happens when a file is missing) never picks up a copy the library found
 * by itself.
 *
 * `agentmem version --verbose` prints where each data file was found.
 */
#ifndef AGENTMEM_DATA_H
#define AGENTMEM_DATA_H

#include <stddef.h>

#include "status.h"
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Find the data file `name` (a file name such as "cl100k_base.tiktoken",
 * no directory) through the search order above, trying `dir` first when it
 * is not NULL or empty. On success writes the file's path, NUL-terminated,
 * into `out` (yours, `cap` bytes). AM_ENOTFOUND (the message lists every
 * place tried), AM_EINVAL (NULL or a name with a '/'), AM_ELIMIT (the path
 * does not fit in `cap`). Reads the environment; allocates nothing.
 * Thread safety: safe. */
AM_API am_status am_data_find(const char *dir, const char *name, char *out,
                              size_t cap, am_error *err);

#ifdef __cplusplus
}
#endif
#endif
