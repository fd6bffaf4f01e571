/* commands.h -- the handlers listed in main.c's command table. */
#ifndef AM_CLI_COMMANDS_H
#define AM_CLI_COMMANDS_H

int cmd_conv(int argc, char **argv);
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
    "[--temperature T] [--timeout-ms N] [--retries N] [--json] "          \
    "PROMPT|-|--messages FILE"

/* Parts of `agentmem demo`, one per module (demo_<module>.c). */
int demo_msg(void);
int cmd_models(int argc, char **argv);
int cmd_cost(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_recall(int argc, char **argv);
int demo_store(void);
int cmd_tiers(int argc, char **argv);
int demo_tiers(void);
int demo_tokens(void);

#endif
