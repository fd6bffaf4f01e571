/* commands.h -- the handlers listed in main.c's command table. */
#ifndef AM_CLI_COMMANDS_H
#define AM_CLI_COMMANDS_H

int cmd_conv(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_version(int argc, char **argv);

/* Parts of `agentmem demo`, one per module (demo_<module>.c). */
int demo_msg(void);

#endif
