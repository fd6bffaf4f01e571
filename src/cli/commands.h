/* commands.h -- the handlers listed in main.c's command table. */
#ifndef AM_CLI_COMMANDS_H
#define AM_CLI_COMMANDS_H

int cmd_demo(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_tokens(int argc, char **argv);
int cmd_trim(int argc, char **argv);     /* cmd_context.c */
int cmd_compress(int argc, char **argv); /* cmd_context.c */
int cmd_replay(int argc, char **argv);   /* cmd_context.c */
void demo_context(void);                 /* demo_context.c */
int cmd_llm(int argc, char **argv);   /* cmd_llm.c */
int cmd_embed(int argc, char **argv); /* cmd_llm.c */
void demo_providers(void);            /* demo_providers.c */
#define LLM_CHAT_USAGE                                                    \
    "chat --model M [--provider openai|anthropic] [--base-url URL] "      \
    "[--api-key-env VAR] [--system TEXT] [--max-tokens N] "               \
    "[--temperature T] [--timeout-ms N] [--retries N] [--json] PROMPT|-"

#endif
