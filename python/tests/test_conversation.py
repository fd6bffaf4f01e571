"""agentmem.conversation (seed 004)."""
import json

import pytest

import agentmem
from agentmem.conversation import (AgentCallMsg, ConversationMemory,
                                   MemoryManager, Message, MessageContent,
                                   ToolCallMsg, format_for_anthropic,
                                   format_for_openai)


def tool_turn():
    call = Message(role="assistant", content="I'll search.", tool_calls=[
        ToolCallMsg(id="call_1", call_id="call_1", type="function",
                    name="search", arguments='{"q": "AI"}')])
    result = Message(role="tool", content="3 results", tool_call_id="call_1")
    return call, result


def test_message_validation():
    with pytest.raises(ValueError, match="role"):
        Message(role="wizard", content="x")
    with pytest.raises(TypeError):
        Message(role="user", content=42)
    assert Message.is_valid_role("tool") and not Message.is_valid_role("bot")
    with pytest.raises(ValueError, match="tool_call_id"):
        Message(role="tool", content="orphan").to_dict()
    with pytest.raises(ValueError):
        MessageContent(next_action="dance")
    with pytest.raises(ValueError, match="agent_name"):
        MessageContent(next_action="invoke_agent", action_input={})


def test_message_round_trip_through_dict():
    call, result = tool_turn()
    m = Message(role="user", content="look", structured_data={"a": [1, 2]},
                images=["img.png"], name="bob",
                agent_calls=[AgentCallMsg("Helper", {"task": "x"})])
    for msg in (m, call, result):
        assert Message.from_dict(msg.to_dict()) == msg
    mc = Message(role="assistant", content=MessageContent(
        thought="t", next_action="invoke_agent",
        action_input={"agent_name": "DataAnalyzer"}))
    assert Message.from_dict(mc.to_dict()) == mc
    c = MessageContent.from_dict(mc.content.to_dict())
    assert c == mc.content


def test_conversation_memory_limits_and_recent():
    mem = ConversationMemory(max_messages=3)
    for i in range(5):
        mem.add_message(Message(role="user", content="m%d" % i))
    assert [m.content for m in mem.get_messages()] == ["m2", "m3", "m4"]
    assert [m.content for m in mem.get_recent(2)] == ["m3", "m4"]
    assert mem.get_recent(0) == []
    mem.add_message({"role": "assistant", "content": "from a dict"})
    assert mem.messages[-1].role == "assistant"
    mem.clear()
    assert mem.get_messages() == []
    with pytest.raises(ValueError):
        ConversationMemory(max_messages=0)
    with pytest.raises(ValueError):
        ConversationMemory(retention_policy="forever")


def test_save_and_load(tmp_path):
    mem = ConversationMemory()
    call, result = tool_turn()
    for m in (Message(role="system", content="sys"),
              Message(role="user", content="héllo ✓"), call, result):
        mem.add_message(m)
    path = tmp_path / "conv.json"
    mem.save_to_file(path)
    assert isinstance(json.loads(path.read_text()), list)
    back = ConversationMemory()
    back.load_from_file(path)
    assert back.messages == mem.messages
    path.write_text('[{"role": "user", "content": ')
    with pytest.raises(agentmem.FormatError):
        back.load_from_file(path)
    with pytest.raises(FileNotFoundError):
        back.load_from_file(tmp_path / "missing.json")


def test_memory_manager():
    mgr = MemoryManager(retention_policy="session", max_messages_per_agent=2)
    a = mgr.get_memory("Analyzer")
    assert mgr.get_memory("Analyzer") is a
    for i in range(3):
        a.add_message(Message(role="user", content=str(i)))
    assert len(a.get_messages()) == 2
    mgr.set_retention_policy("Runner", "single_run")
    mgr.get_memory("Runner").add_message(Message(role="user", content="x"))
    mgr.end_run()
    assert mgr.get_memory("Runner").get_messages() == []
    assert len(a.get_messages()) == 2
    with pytest.raises(ValueError):
        mgr.set_retention_policy("Analyzer", "eternal")
    mgr.clear_agent_memory("Analyzer")
    assert a.get_messages() == []
    mgr.clear_all()


def test_format_for_openai_and_anthropic():
    call, result = tool_turn()
    msgs = [Message(role="system", content="Be brief."),
            Message(role="user", content="Find AI news"), call, result]
    oa = format_for_openai(msgs)
    assert oa[0] == {"role": "system", "content": "Be brief."}
    assert oa[2]["tool_calls"][0]["function"]["name"] == "search"
    assert oa[3] == {"role": "tool", "content": "3 results",
                     "tool_call_id": "call_1"}
    an = format_for_anthropic(msgs)
    assert [m["role"] for m in an] == ["user", "assistant", "user"]
    assert an[1]["content"][1]["type"] == "tool_use"
    assert an[2]["content"][0]["type"] == "tool_result"
    full = format_for_anthropic(msgs, with_system=True)
    assert full["system"] == "Be brief."
    with pytest.raises(agentmem.InvalidArgumentError, match="3"):
        format_for_openai([msgs[1], Message(role="assistant", content="x"),
                           Message(role="user", content="y"), result])
