"""agentmem.react: the ReAct memory of seed 000 over am_react/am_sessions."""
import gc
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import List, Optional

import pytest

import agentmem
from agentmem.react import (MemoryAgent, ReactMemory, ReasoningStep,
                            SessionManager, Todo, ToolExecution, ToolResult,
                            analyze_memory_usage)

from test_leaks import rss_kb


def calc(success=True, value=42, t=0.15, when=None):
    return ToolExecution(
        tool_name="calculator", params={"expression": "6 * 7"},
        result=ToolResult(success=success, result={"calculation": value}
                          if success else None, execution_time=t,
                          tool_name="calculator",
                          error=None if success else "division by zero"),
        timestamp=when or datetime.now())


def test_messages_keep_order_roles_and_times():
    m = ReactMemory()
    before = datetime.now() - timedelta(seconds=1)
    m.add_message("user", "Hello, how are you?")
    m.add_message("assistant", "I'm doing well, thank you!")
    m.add_message("system", "Be concise")
    msgs = m.get_messages()
    assert [(x.role, x.content) for x in msgs] == [
        ("user", "Hello, how are you?"),
        ("assistant", "I'm doing well, thank you!"),
        ("system", "Be concise")]
    assert all(before <= x.timestamp <= datetime.now() + timedelta(seconds=1)
               for x in msgs)
    assert [x.content for x in m.get_messages_by_role("assistant")] == [
        "I'm doing well, thank you!"]
    assert m.get_messages_by_role("tool") == []
    assert m.conversation_history == msgs


def test_bad_message_input_raises_clear_errors():
    m = ReactMemory()
    with pytest.raises(TypeError, match="role"):
        m.add_message(None, "x")
    with pytest.raises(ValueError, match="content: bytes are not valid UTF-8"):
        m.add_message("user", b"\xff\xfe")
    with pytest.raises(agentmem.InvalidArgumentError):
        m.add_message("", "empty role")
    with pytest.raises(ValueError, match="max_messages"):
        ReactMemory(max_messages=-1)
    with pytest.raises(ValueError, match="max_steps is out of range"):
        ReactMemory(max_steps=1 << 80)
    assert m.get_messages() == []


def test_tool_executions_round_trip_and_filter():
    m = ReactMemory()
    when = datetime(2024, 5, 1, 12, 0, 0, 250000)
    m.add_tool_execution(calc(when=when))
    m.add_tool_execution(calc(success=False, t=0.5))
    m.add_tool_execution(ToolExecution("search", {"q": "x"},
                                       ToolResult(True, ["a", "b"], 1.25)))
    ex = m.tool_executions
    assert len(ex) == 3
    assert ex[0].tool_name == "calculator"
    assert ex[0].params == {"expression": "6 * 7"}
    assert ex[0].result.success and ex[0].result.result == {"calculation": 42}
    assert ex[0].result.execution_time == pytest.approx(0.15)
    assert ex[0].timestamp == when
    assert not ex[1].result.success
    assert ex[1].result.error == "division by zero"
    assert [e.tool_name for e in m.get_tool_executions(success=True)] == [
        "calculator", "search"]
    assert len(m.get_tool_executions("calculator", success=False)) == 1
    assert m.get_tool_executions("nope") == []


def test_tool_execution_bad_input():
    m = ReactMemory()
    with pytest.raises(TypeError, match="ToolExecution.params must be JSON"):
        m.add_tool_execution(ToolExecution("t", {"f": object()},
                                           ToolResult(True)))
    with pytest.raises(ValueError, match="execution_time"):
        m.add_tool_execution(ToolExecution("t", {}, ToolResult(True, None,
                                                               -1.0)))
    with pytest.raises(TypeError, match="ToolResult"):
        m.add_tool_execution(ToolExecution("t", {}, {"success": True}))
    with pytest.raises(TypeError, match="ToolExecution"):
        m.add_tool_execution({"tool_name": "t"})
    with pytest.raises(agentmem.InvalidArgumentError):
        m.add_tool_execution(ToolExecution("", {}, ToolResult(True)))
    assert m.tool_executions == []


def test_reasoning_trace_types_and_recent():
    m = ReactMemory()
    for i in range(12):
        m.add_reasoning_step(("THINK", "ACT", "OBSERVE")[i % 3], "s%d" % i)
    m.add_reasoning_step(ReasoningStep("think", "last"))
    trace = m.reasoning_trace
    assert len(trace) == 13 and trace[-1].step_type == "THINK"
    assert [s.content for s in m.get_reasoning_steps("ACT")] == [
        "s1", "s4", "s7", "s10"]
    assert [s.content for s in m.get_reasoning_steps("THINK", recent=4)] == [
        "s9", "last"]
    with pytest.raises(ValueError, match="THINK, ACT or OBSERVE, not 'PLAN'"):
        m.add_reasoning_step("PLAN", "x")


def test_context_is_a_live_json_mapping():
    m = ReactMemory()
    m.context["user"] = {"name": "Ada", "langs": ["c", "py"]}
    m.context["turns"] = 3
    assert m.context["user"] == {"name": "Ada", "langs": ["c", "py"]}
    assert dict(m.context) == {"user": {"name": "Ada", "langs": ["c", "py"]},
                               "turns": 3}
    assert len(m.context) == 2 and "turns" in m.context
    del m.context["turns"]
    with pytest.raises(KeyError):
        m.context["turns"]
    with pytest.raises(KeyError):
        del m.context["turns"]
    with pytest.raises(TypeError, match="JSON-serializable"):
        m.context["bad"] = {1, 2}
    m.context = {"a": 1}
    assert dict(m.context) == {"a": 1}


def test_typed_slots_keep_their_type_and_travel_with_export():
    m = ReactMemory()
    events = []
    m.add_hook(lambda mem, ev: events.append(ev))
    m.define_slot("visited", ["Lisbon"], list)
    m.define_slot("prefs", {"seat": "aisle"}, "object")
    m.define_slot("budget", 120, int)
    m.define_slot("note", None)  # type any
    assert m.slot_type("visited") == "array"
    assert m.slot_type("note") == "any" and m.get_slot("note") is None
    m.set_slot("visited", ["Lisbon", "Porto"])
    got = m.get_slot("visited")
    got.append("mutated")  # a copy
    assert m.get_slot("visited") == ["Lisbon", "Porto"]
    assert m.slots == {"budget": 120, "note": None,
                       "prefs": {"seat": "aisle"},
                       "visited": ["Lisbon", "Porto"]}
    with pytest.raises(agentmem.InvalidArgumentError,
                       match="visited.*array.*string|visited.*string.*array"):
        m.set_slot("visited", "Porto")
    with pytest.raises(agentmem.InvalidArgumentError, match="budget"):
        m.set_slot("budget", 1.5)
    assert m.get_slot("budget") == 120  # unchanged by the failure
    with pytest.raises(agentmem.ExistsError):
        m.define_slot("budget", "x", str)
    m.define_slot("budget", 99, int)  # same type: sets it
    assert m.get_slot("budget") == 99
    with pytest.raises(agentmem.NotFoundError):
        m.set_slot("nope", 1)
    assert m.get_slot("nope", "dflt") == "dflt" and m.slot_type("nope") is None
    with pytest.raises(ValueError, match="slot type"):
        m.define_slot("x", 1, "float64")
    with pytest.raises(ValueError, match="slot type"):
        m.define_slot("x", 1, set)
    with pytest.raises(TypeError, match="JSON"):
        m.define_slot("x", {1, 2})
    with pytest.raises(agentmem.InvalidArgumentError):
        m.define_slot("", 1)
    assert "slot" in events
    # Slots travel in export/import, typed.
    n = ReactMemory()
    n.import_memory(m.export_memory())
    assert n.slots == m.slots and n.slot_type("prefs") == "object"
    with pytest.raises(agentmem.InvalidArgumentError):
        n.set_slot("prefs", [1])
    assert m.remove_slot("note") is True and m.remove_slot("note") is False
    assert "note" not in m.slots


def test_todos():
    m = ReactMemory()
    t1 = m.add_todo("write tests", priority=2)
    t2 = m.add_todo(Todo("fix", "fix the bug", "in_progress", 5))
    assert t1.id == "todo_1"
    m.update_todo("todo_1", status="done")
    assert m.todos == [Todo("todo_1", "write tests", "done", 2), t2]
    assert [t.id for t in m.get_todos("done")] == ["todo_1"]
    assert m.remove_todo("fix") and not m.remove_todo("fix")
    with pytest.raises(agentmem.NotFoundError):
        m.update_todo("fix", status="done")
    with pytest.raises(ValueError, match="pending, in_progress or done"):
        m.add_todo("x", status="finished")


def filled():
    m = ReactMemory()
    m.add_message("system", "sys")
    m.add_message("user", "héllo ✓")
    m.add_tool_execution(calc())
    m.add_tool_execution(calc(success=False))
    m.add_reasoning_step("THINK", "hmm")
    m.context["k"] = [1, 2, {"x": None}]
    m.add_todo("t", id="a", priority=-3)
    return m


def test_export_import_is_lossless():
    m = filled()
    data = m.export_memory()
    assert data["version"] == 1
    copy = ReactMemory()
    copy.import_memory(json.loads(json.dumps(data)))
    assert copy.export_memory() == data
    assert copy.get_messages() == m.get_messages()
    assert copy.tool_executions == m.tool_executions
    assert copy.todos == m.todos and dict(copy.context) == dict(m.context)


def test_bad_import_names_the_field_and_changes_nothing():
    m = filled()
    before = m.export_memory()
    bad = json.loads(json.dumps(before))
    bad["tool_executions"][1]["success"] = "yes"
    with pytest.raises(agentmem.FormatError,
                       match=r"tool_executions\[1\].success: expected a "
                             "boolean"):
        m.import_memory(bad)
    assert m.export_memory() == before
    with pytest.raises(agentmem.FormatError):
        m.import_memory("{not json")
    with pytest.raises(TypeError, match="memory document"):
        m.import_memory(42)


def test_prune_keeps_system_messages_and_drops_duplicates():
    m = ReactMemory()
    m.add_message("system", "rules")
    for i in range(10):
        m.add_message("user", "same")
        m.add_message("assistant", "answer %d" % i)
    for i in range(8):
        m.add_tool_execution(calc(value=i))
        m.add_reasoning_step("ACT", str(i))
    m.prune(max_messages=4, max_tool_executions=3, max_steps=2)
    assert [(x.role, x.content) for x in m.get_messages()] == [
        ("system", "rules"), ("user", "same"), ("assistant", "answer 8"),
        ("assistant", "answer 9")]
    assert [e.result.result["calculation"] for e in m.tool_executions] == [
        5, 6, 7]
    assert [s.content for s in m.reasoning_trace] == ["6", "7"]


def test_automatic_pruning_at_1_2_times_the_limit():
    m = ReactMemory(max_messages=10)
    for i in range(11):
        m.add_message("user", str(i))
    assert len(m.get_messages()) == 11
    m.add_message("user", "11")
    assert [x.content for x in m.get_messages()] == [str(i)
                                                     for i in range(2, 12)]


def test_history_assignment_replaces_like_the_seeds_pruning():
    m = filled()
    hist = m.conversation_history
    m.conversation_history = hist[-1:]
    assert [x.content for x in m.get_messages()] == ["héllo ✓"]
    m.tool_executions = m.tool_executions[-1:]
    assert len(m.tool_executions) == 1
    m.reasoning_trace = []
    assert m.reasoning_trace == []


def test_statistics():
    m = filled()
    for mem in (m, MemoryAgent(memory=m)):
        s = analyze_memory_usage(mem)
        assert s["messages"]["total_messages"] == 2
        assert s["messages"]["by_role"]["system"] == 1
        assert s["messages"]["by_role"]["system_avg_length"] == 3
        assert s["tools"]["total_executions"] == 2
        assert s["tools"]["success_rate"] == 0.5
        assert s["tools"]["avg_execution_time"] == pytest.approx(0.15)
        assert s["tools"]["tool_usage"] == {"calculator": 2}
        assert s["reasoning"]["step_distribution"] == {"THINK": 1}
        assert s["memory_size"]["total_kb"] > 0
        datetime.fromisoformat(s["analysis_timestamp"][:19])
    with pytest.raises(TypeError, match="get_memory"):
        analyze_memory_usage(object())


def test_hooks_see_every_update_and_failures_are_counted():
    m = ReactMemory()
    seen = []
    m.add_hook(lambda mem, ev: seen.append((ev, len(mem.get_messages()))))

    def failing(mem, ev):
        raise RuntimeError("boom on " + ev)
    m.add_hook(failing)
    m.add_message("user", "hi")
    m.add_reasoning_step("THINK", "x")
    m.context["a"] = 1
    m.prune(max_messages=1)
    assert seen == [("message", 1), ("step", 1), ("context", 1),
                    ("prune", 1)]
    assert m.hook_failures == 4
    assert "RuntimeError: boom on prune" in m.hook_error
    assert len(m.get_messages()) == 1  # the update stood
    with pytest.raises(TypeError, match="callable"):
        m.add_hook(3)


def test_a_hook_may_read_but_not_modify():
    m = ReactMemory()
    m.add_hook(lambda mem, ev: mem.add_message("user", "again"))
    m.add_message("user", "once")
    assert [x.content for x in m.get_messages()] == ["once"]
    assert m.hook_failures == 1
    assert "must not modify" in m.hook_error


def test_hook_limit():
    m = ReactMemory()
    for _ in range(16):
        m.add_hook(lambda mem, ev: None)
    with pytest.raises(agentmem.LimitError):
        m.add_hook(lambda mem, ev: None)


def test_agent_hooks_get_agent_and_memory():
    agent = MemoryAgent(name="HookedAgent")
    calls = []
    agent.add_memory_hook(lambda a, mem: calls.append(
        (a.name, len(mem.conversation_history))))
    agent.get_memory().add_message("user", "x")
    fresh = ReactMemory()
    agent.set_memory(fresh)
    fresh.add_message("user", "y")
    fresh.add_message("user", "z")
    assert calls == [("HookedAgent", 1), ("HookedAgent", 1),
                     ("HookedAgent", 2)]


@dataclass
class SupportFields:
    customer_id: Optional[str] = None
    escalation_level: int = 1
    interaction_notes: List[str] = field(default_factory=list)


def test_domain_record_travels_with_export_and_runs_hooks():
    m = ReactMemory()
    m.set_domain_type(SupportFields)
    events = []
    m.add_hook(lambda mem, ev: events.append(ev))
    m.domain = SupportFields("cust_1")
    m.domain.escalation_level += 1
    m.domain.interaction_notes.append("escalated")
    m.domain_touched()
    assert events == ["domain", "domain"]
    data = m.export_memory()
    assert data["domain"]["data"]["escalation_level"] == 2
    other = ReactMemory()
    other.set_domain_type(SupportFields)
    other.import_memory(data)
    assert other.domain == SupportFields("cust_1", 2, ["escalated"])
    untyped = ReactMemory()
    with pytest.raises(agentmem.StateError):
        untyped.import_memory(data)
    with pytest.raises(agentmem.StateError):
        untyped.domain = SupportFields()
    with pytest.raises(TypeError, match="not a dataclass"):
        untyped.set_domain_type(dict)


def test_domain_serializer_failure_is_reported():
    m = ReactMemory()
    m.set_domain_type(SupportFields, to_dict=lambda r: {"bad": {1}})
    m.domain = SupportFields()
    with pytest.raises(agentmem.Error, match="serialize failed"):
        m.export_memory()


def test_session_manager(tmp_path):
    sm = SessionManager(tmp_path / "sessions")
    agent = MemoryAgent()
    agent.get_memory().add_message("user", "remember me")
    sm.save_session(agent, "user123_session1")
    sm.save_session(filled(), "other")
    assert sm.list_sessions() == ["other", "user123_session1"]
    again = MemoryAgent()
    assert sm.load_session(again, "user123_session1")
    assert [x.content for x in again.get_memory().get_messages()] == [
        "remember me"]
    assert not sm.load_session(again, "missing")
    with pytest.raises(agentmem.InvalidArgumentError):
        sm.save_session(agent, "../escape")
    assert sm.delete_session("other") and not sm.delete_session("other")
    (tmp_path / "sessions" / "broken.json").write_text('{"version": 7}')
    with pytest.raises(agentmem.FormatError, match="version 7"):
        sm.load_session(again, "broken")
    assert len(again.get_memory().get_messages()) == 1
    with pytest.raises(TypeError, match="ReactMemory"):
        sm.save_session("agent", "x")


def test_threads_share_one_memory():
    m = ReactMemory()
    reads = []
    m.add_hook(lambda mem, ev: reads.append(len(mem.get_messages())))

    def work(k):
        for i in range(300):
            m.add_message("user", "%d-%d" % (k, i))
            m.get_messages_by_role("user")
            if i % 50 == 0:
                m.export_memory()

    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(m.get_messages()) == 1200
    # Each hook saw the list its own update produced: 1..1200, once each.
    assert sorted(reads) == list(range(1, 1201))
    assert m.hook_failures == 0


def test_close_and_context_manager():
    with ReactMemory() as m:
        m.add_message("user", "x")
    assert m.closed
    with pytest.raises(ValueError, match="closed"):
        m.get_messages()
    m.close()  # twice is fine


def test_create_free_cycles_keep_rss_flat():
    def cycle(n):
        for _ in range(n):
            m = ReactMemory()
            m.add_message("user", "hello")
            m.add_hook(lambda mem, ev: m)  # a cycle through the hook
            m.add_tool_execution(calc())
            del m
    cycle(2000)
    gc.collect()
    before = rss_kb()
    cycle(100000)
    gc.collect()
    grown = rss_kb() - before
    assert grown < 4096, "RSS grew by %d KB" % grown
