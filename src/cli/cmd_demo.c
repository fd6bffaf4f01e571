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
    demo_providers();
    if ((rc = demo_msg()) != CLI_EXIT_OK)
        return rc;
    if (demo_store() != 0)
    if (demo_tiers() != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    demo_context();
    demo_tokens();
    return CLI_EXIT_OK;
}
