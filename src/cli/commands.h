/* commands.h -- the handlers listed in main.c's command table, and the
 * parts of `agentmem demo` (one demo_<module>.c per module). */
#ifndef AM_CLI_COMMANDS_H
#define AM_CLI_COMMANDS_H

/* Messages and conversations: cmd_conv.c */
int cmd_conv(int argc, char **argv);
extern const struct cli_group conv_group;
/* Tokens, model catalog, cost: cmd_tokens.c */
int cmd_tokens(int argc, char **argv);
extern const struct cli_group tokens_group;
int cmd_models(int argc, char **argv);
int cmd_cost(int argc, char **argv);
extern const struct cli_group models_group, cost_group;
/* Context window: cmd_context.c */
int cmd_trim(int argc, char **argv);
int cmd_compress(int argc, char **argv);
int cmd_replay(int argc, char **argv);
extern const struct cli_group trim_group, compress_group, replay_group;
/* Long-term store and recall: cmd_store.c, cmd_recall.c (cli_store.c) */
int cmd_store(int argc, char **argv);
extern const struct cli_group store_group;
int cmd_recall(int argc, char **argv);
extern const struct cli_group recall_group;
/* Hierarchical tiers: cmd_tiers.c */
int cmd_tiers(int argc, char **argv);
extern const struct cli_group tiers_group;
/* Providers over HTTP: cmd_llm.c */
int cmd_llm(int argc, char **argv);
extern const struct cli_group llm_group;
int cmd_embed(int argc, char **argv);
extern const struct cli_group embed_group;
/* HTTP API and MCP server: cmd_serve.c (the server is src/server) */
int cmd_serve(int argc, char **argv);
int cmd_mcp(int argc, char **argv);
extern const struct cli_group serve_group, mcp_group;
/* main.c and cmd_demo.c */
int cmd_version(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_demo(int argc, char **argv);

/* Parts of `agentmem demo`. The int ones return a CLI exit status; the
 * void ones print what failed and carry on, since their part is optional
 * (no LLM configured) or purely illustrative. */
int demo_msg(void);
int demo_tokens(void);
void demo_context(void);
int demo_store(void);
int demo_tiers(void);
void demo_providers(void);

#endif
