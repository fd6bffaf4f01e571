/* cmd_demo.c -- `agentmem demo`: the main job, a tour of what exists.
 *
 * Each part of the tour is a function below that prints what it does with
 * the public API on data the project ships under examples/. Later modules
 * add their part.
 */
#include <stdio.h>

#include "agentmem/version.h"
#include "cli.h"
#include "commands.h"

int cmd_demo(int argc, char **argv)
{
    int rc;

    (void)argc;
    (void)argv;
    printf("agentmem %s demo\n", am_version());
    /* In the order a user meets the layers: messages, counting, the
     * context window, long-term memory, tiers, then live providers. */
    if ((rc = demo_msg()) != CLI_EXIT_OK)
        return rc;
    if ((rc = demo_tokens()) != CLI_EXIT_OK)
        return rc;
    demo_context();
    if ((rc = demo_store()) != CLI_EXIT_OK)
        return rc;
    if ((rc = demo_tiers()) != CLI_EXIT_OK)
        return rc;
    demo_providers();
    return CLI_EXIT_OK;
}
