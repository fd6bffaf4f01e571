// trim.mjs -- LangChain trimMessages on the conversation bench_trim wrote.
//
//   node trim.mjs CONV.json [REPS]
//
// Same data, same budgets (8k, 32k, 128k), same counting rule as
// bench_trim.c: per message 3 + ceil((content length + tool-call name and
// argument lengths) / 4). Strategy "last", includeSystem true, no partial
// messages -- the equivalent of am_trim's AM_TRIM_TOKENS. Prints
// `name items ns/op` lines (best of REPS) and the validity of the result.
import { readFileSync } from "node:fs";
import {
  AIMessage, HumanMessage, SystemMessage, ToolMessage, trimMessages,
} from "@langchain/core/messages";

const file = process.argv[2];
const reps = Number(process.argv[3] || 3);
const raw = JSON.parse(readFileSync(file, "utf8"));
const msgs = raw.map((m) => {
  switch (m.role) {
    case "system": return new SystemMessage(m.content);
    case "user": return new HumanMessage(m.content);
    case "tool": return new ToolMessage({ content: m.content, tool_call_id: m.tool_call_id });
    case "assistant": return new AIMessage({
      content: m.content ?? "",
      tool_calls: (m.tool_calls ?? []).map((tc) => ({
        id: tc.id, name: tc.function.name, args: JSON.parse(tc.function.arguments),
        type: "tool_call",
      })),
    });
    default: throw new Error("role " + m.role);
  }
});

function countOne(m) {
  let bytes = typeof m.content === "string" ? m.content.length : 0;
  for (const tc of m.tool_calls ?? []) bytes += tc.name.length + JSON.stringify(tc.args).length;
  return 3 + Math.ceil(bytes / 4);
}
const tokenCounter = (list) => { let t = 0; for (const m of list) t += countOne(m); return t; };

function validity(list) {
  const calls = new Set(), results = new Set();
  let orphans = 0, unanswered = 0;
  for (const m of list) {
    if (m.getType() === "ai") for (const tc of m.tool_calls ?? []) calls.add(tc.id);
    if (m.getType() === "tool") { results.add(m.tool_call_id); if (!calls.has(m.tool_call_id)) orphans++; }
  }
  for (const id of calls) if (!results.has(id)) unanswered++;
  const toolFirst = list.length > 1 && list[1].getType() === "tool";
  return { orphans, unanswered, toolFirst };
}

const total = tokenCounter(msgs);
for (const budget of [8000, 32000, 128000]) {
  let best = Infinity, out = null;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    out = await trimMessages(msgs, {
      maxTokens: budget, strategy: "last", tokenCounter, includeSystem: true,
      allowPartial: false,
    });
    const dt = Number(process.hrtime.bigint() - t0);
    if (dt < best) best = dt;
  }
  const v = validity(out);
  console.log(`langchain_trim_last_${budget / 1000}k ${msgs.length} ${best}`);
  console.log(`  kept ${out.length} messages, ${tokenCounter(out)} of ${total} tokens; ` +
    `orphan tool results ${v.orphans}, calls without results ${v.unanswered}, ` +
    `starts on tool ${v.toolFirst ? "yes" : "no"}`);
}

// LangChain's documented workaround for orphans: start on a human message.
{
  const t0 = process.hrtime.bigint();
  const out = await trimMessages(msgs, {
    maxTokens: 8000, strategy: "last", tokenCounter, includeSystem: true,
    startOn: "human",
  });
  const dt = Number(process.hrtime.bigint() - t0);
  const v = validity(out);
  console.log(`langchain_trim_last_8k_startOn_human ${msgs.length} ${dt}`);
  console.log(`  kept ${out.length} messages, ${tokenCounter(out)} of ${total} tokens; ` +
    `orphan tool results ${v.orphans}, calls without results ${v.unanswered}, ` +
    `starts on tool ${v.toolFirst ? "yes" : "no"}`);
}
