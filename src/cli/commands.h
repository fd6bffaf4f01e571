/* commands.h -- the handlers listed in main.c's command table. */
#ifndef AM_CLI_COMMANDS_H
#define AM_CLI_COMMANDS_H

int cmd_demo(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_tokens(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_cost(int argc, char **argv);
int demo_tokens(void);

#endif
