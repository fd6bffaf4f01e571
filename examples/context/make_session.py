#!/usr/bin/env python3
"""make_session.py -- generate examples/context/agent_session.json.

A long, realistic ReAct coding-agent session in agentmem's JSON format
(one message per line): an agent fixes a failing billing service over
many turns, with file reads, greps, test runs (long logs), edits, web
searches, parallel tool calls, tool errors, decisions and user check-ins.
Deterministic (fixed seed), so the committed file can be regenerated:

    python3 examples/context/make_session.py > examples/context/agent_session.json
"""
import json
import random

rng = random.Random(4)
T0 = 1748764800000  # 2025-06-01T08:00:00Z
msgs = []
clock = [T0]
ids = [0]


def tick(ms=None):
    clock[0] += ms if ms is not None else rng.randint(800, 9000)
    return clock[0]


def add(role, content=None, **kw):
    m = {"role": role, "created_ms": tick()}
    if content is not None:
        m["content"] = content
    m.update(kw)
    msgs.append(m)


def call_id():
    ids[0] += 1
    return "call_%04d" % ids[0]


MODULES = ["invoice", "ledger", "tax", "currency", "refund", "webhook",
           "subscription", "discount", "report", "audit"]
FUNCS = ["compute_total", "apply_discount", "round_half_even", "convert",
         "post_entry", "validate", "render_pdf", "sign_payload", "retry",
         "reconcile"]
PEOPLE = ["Priya Raman", "Jonas Weber", "Amelia Chen", "Tomasz Nowak"]
ERRORS = [
    "AssertionError: expected 1049.99 but got 1050.00",
    "KeyError: 'EUR'",
    "TimeoutError: webhook endpoint did not answer within 30s",
    "ValueError: negative refund amount -12.50",
    "sqlite3.OperationalError: database is locked",
    "TypeError: unsupported operand type(s) for +: 'Decimal' and 'float'",
]


def code_block(mod, fn, lines=30):
    out = ["# billing/%s.py" % mod, "from decimal import Decimal, ROUND_HALF_EVEN", ""]
    for i in range(lines):
        k = rng.randint(0, 5)
        if k == 0:
            out.append("def %s_%d(amount, rate=Decimal('0.%02d')):" % (fn, i, rng.randint(1, 99)))
        elif k == 1:
            out.append("    total = (amount * rate).quantize(Decimal('0.01'), ROUND_HALF_EVEN)")
        elif k == 2:
            out.append("    if amount < 0:\n        raise ValueError('negative amount %s' % amount)")
        elif k == 3:
            out.append("    log.debug('%s: %%s', total)  # see ticket BILL-%d" % (fn, rng.randint(100, 999)))
        elif k == 4:
            out.append("    return total")
        else:
            out.append("")
    return "\n".join(out)


def test_log(failing):
    lines = ["============================= test session starts =============================",
             "platform linux -- Python 3.11.9, pytest-8.2.1", "collected %d items" % rng.randint(180, 260), ""]
    for mod in rng.sample(MODULES, 6):
        dots = "".join(rng.choice("....F" if failing else ".....") for _ in range(rng.randint(20, 45)))
        lines.append("tests/test_%s.py %s" % (mod, dots))
    if failing:
        lines.append("")
        lines.append("=================================== FAILURES ===================================")
        for _ in range(failing):
            mod, fn = rng.choice(MODULES), rng.choice(FUNCS)
            lines.append("____________________ test_%s_%s ____________________" % (mod, fn))
            lines.append("    def test_%s_%s():" % (mod, fn))
            lines.append(">       assert %s(Decimal('1049.985')) == Decimal('1049.99')" % fn)
            lines.append("E       " + rng.choice(ERRORS))
            lines.append("tests/test_%s.py:%d: %s" % (mod, rng.randint(10, 400), rng.choice(ERRORS).split(":")[0]))
    lines.append("========== %d failed, %d passed in %.2fs ==========" % (failing, rng.randint(170, 250), rng.uniform(3, 40)))
    return "\n".join(lines)


add("system", "You are CodeAgent, an autonomous software engineer working in the "
    "repository acme/billing. Use the tools to read, search, edit and test code. "
    "Think step by step, keep the user informed, and never push to main without "
    "approval. Important: all money values use Decimal with ROUND_HALF_EVEN.")
add("user", "Hi, I'm %s from the payments team. CI on acme/billing has been red since "
    "Friday 2025-05-30: about a dozen tests fail after the currency refactor (PR #418). "
    "Please find the root causes and fix them; the release is due on June 6." % PEOPLE[0])

failing = 12
for step in range(1, 201):
    mod, fn = rng.choice(MODULES), rng.choice(FUNCS)
    kind = step % 6
    thought = rng.choice([
        "Next I will look at %s.%s, which the failing tests call." % (mod, fn),
        "The traceback points at rounding in %s; let me read it." % mod,
        "I should confirm the hypothesis by running the %s tests." % mod,
        "Searching the codebase for other uses of %s." % fn,
    ])
    if kind == 0 and step % 12 == 0:
        # User check-in.
        add("user", rng.choice([
            "How is it going? %s asked whether the tax module is affected too." % PEOPLE[1],
            "Quick question: can we keep the old float API for the mobile client until v2.3?",
            "Remember that refunds above 10,000 EUR need a second approval - don't change that rule.",
            "Status update please; the release meeting is at 15:00 today.",
        ]))
        add("assistant", "Status: %d tests still failing (down from 12). Root cause so far: "
            "%s mixes float and Decimal after PR #418. Decision: convert at the API boundary "
            "and keep Decimal internally. Open question: should currency.convert accept str "
            "input? I will continue with %s." % (failing, mod, rng.choice(MODULES)))
        continue
    if kind in (1, 2):
        # Parallel reads: one assistant message, two or three tool calls.
        calls = []
        n = rng.choice([2, 2, 3])
        for j in range(n):
            m2 = rng.choice(MODULES)
            calls.append({"id": call_id(), "type": "function", "name": "read_file",
                          "arguments": json.dumps({"path": "billing/%s.py" % m2})})
        add("assistant", thought, tool_calls=calls)
        order = list(range(n))
        rng.shuffle(order)  # results arrive out of order
        for j in order:
            path = json.loads(calls[j]["arguments"])["path"]
            if rng.random() < 0.08:
                add("tool", "error: FileNotFoundError: %s (moved in PR #418?)" % path,
                    tool_call_id=calls[j]["id"])
            else:
                add("tool", code_block(path.split("/")[1][:-3], fn, rng.randint(25, 60)),
                    tool_call_id=calls[j]["id"])
    elif kind == 3:
        cid = call_id()
        add("assistant", thought, tool_calls=[{"id": cid, "type": "function", "name": "grep",
                                                "arguments": json.dumps({"pattern": fn, "path": "billing/"})}])
        hits = ["billing/%s.py:%d:    %s(amount)" % (rng.choice(MODULES), rng.randint(5, 300), fn)
                for _ in range(rng.randint(3, 25))]
        add("tool", "\n".join(hits), tool_call_id=cid)
    elif kind == 4:
        cid = call_id()
        add("assistant", "Running the test suite for %s." % mod,
            tool_calls=[{"id": cid, "type": "function", "name": "run_tests",
                         "arguments": json.dumps({"path": "tests/test_%s.py" % mod, "verbose": True})}])
        add("tool", test_log(failing if failing else 0), tool_call_id=cid)
        add("assistant", "%d failures remain. The %s failure is the Decimal/float mix in %s." %
            (failing, mod, fn))
    else:
        cid = call_id()
        ok = rng.random() > 0.15
        add("assistant", "Fixing %s.%s: quantize with ROUND_HALF_EVEN and convert floats via str()." % (mod, fn),
            tool_calls=[{"id": cid, "type": "function", "name": "edit_file",
                         "arguments": json.dumps({"path": "billing/%s.py" % mod,
                                                  "old": "amount * rate",
                                                  "new": "(Decimal(str(amount)) * rate).quantize(CENT, ROUND_HALF_EVEN)"})}])
        if ok:
            add("tool", json.dumps({"ok": True, "path": "billing/%s.py" % mod, "lines_changed": rng.randint(1, 9)}),
                tool_call_id=cid)
            if failing > 0 and rng.random() < 0.5:
                failing -= 1
        else:
            add("tool", "error: edit conflict in billing/%s.py: 'amount * rate' not found" % mod,
                tool_call_id=cid)
    if step % 20 == 10:
        cid = call_id()
        add("assistant", "Let me check how other projects handle banker's rounding.",
            tool_calls=[{"id": cid, "type": "function", "name": "web_search",
                         "arguments": json.dumps({"query": "python decimal ROUND_HALF_EVEN currency best practice"})}])
        add("tool", json.dumps({"results": [
            {"title": "decimal - Decimal fixed point and floating point arithmetic", "url": "https://docs.python.org/3/library/decimal.html"},
            {"title": "Money and rounding: why banks use half-even", "url": "https://example.org/money-rounding"},
            {"title": "PEP 327 - Decimal Data Type", "url": "https://peps.python.org/pep-0327/"}]}),
            tool_call_id=cid)

add("assistant", "All tests pass now (0 failed, 241 passed). Summary of the fix: PR #418 introduced "
    "float arithmetic in currency.convert; I converted at the API boundary with Decimal(str(x)), "
    "quantized with ROUND_HALF_EVEN everywhere, and kept the 10,000 EUR second-approval rule for "
    "refunds. Ready for review by %s before the June 6 release." % PEOPLE[0])
add("user", "Great work. Please open the PR and assign %s and %s as reviewers." % (PEOPLE[0], PEOPLE[2]))

print("[")
for i, m in enumerate(msgs):
    print(json.dumps(m, ensure_ascii=False) + ("," if i + 1 < len(msgs) else ""))
print("]")
