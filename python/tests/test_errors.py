"""The exception hierarchy and input checking."""
import pytest

import agentmem
from agentmem import _agentmem
from agentmem.context import count_tokens, trim_messages


def test_every_status_has_a_class_with_the_c_message():
    codes = {1: agentmem.NoMemoryError, 2: agentmem.InvalidArgumentError,
             3: agentmem.NotFoundError, 4: agentmem.LimitError,
             5: agentmem.StorageError, 6: agentmem.FormatError,
             7: agentmem.ExistsError, 8: agentmem.BusyError,
             9: agentmem.NetworkError, 10: agentmem.AuthError,
             11: agentmem.ProtocolError, 12: agentmem.StateError,
             13: agentmem.UnsupportedError, 14: agentmem.TimedOutError,
             15: agentmem.CanceledError}
    for code, cls in codes.items():
        assert issubclass(cls, agentmem.Error)
        with pytest.raises(cls) as ei:
            _agentmem._raise_status(code, "detail %d" % code)
        assert str(ei.value) == "detail %d" % code
        assert ei.value.status == code
    assert issubclass(agentmem.InvalidArgumentError, ValueError)
    assert issubclass(agentmem.FormatError, ValueError)
    assert issubclass(agentmem.NotFoundError, LookupError)


def test_empty_message_gets_the_status_description():
    with pytest.raises(agentmem.FormatError) as ei:
        _agentmem._raise_status(6, "")
    assert str(ei.value) == _agentmem.status_str(6)


@pytest.mark.parametrize("bad", [None, 42, 3.5, object()])
def test_count_tokens_rejects_non_text(bad):
    with pytest.raises(TypeError):
        count_tokens(bad)


def test_invalid_utf8_and_surrogates_are_value_errors():
    with pytest.raises(ValueError, match="UTF-8"):
        count_tokens(b"\xff\xfe")
    with pytest.raises(ValueError):
        count_tokens("a\udc80b")
    assert count_tokens(b"hello world") == 2


def test_bad_messages_name_the_index():
    with pytest.raises(ValueError, match=r"messages\[1\]"):
        trim_messages([{"role": "user", "content": "a"},
                       {"role": "wizard", "content": "b"}])
    with pytest.raises(ValueError, match=r"messages\[0\].*role"):
        trim_messages([{"content": "no role"}])
    with pytest.raises(TypeError, match=r"messages\[0\]"):
        trim_messages([None])
    with pytest.raises(TypeError, match=r"messages\[0\].content"):
        trim_messages([{"role": "user", "content": 5}])
    with pytest.raises(TypeError):
        trim_messages(None)
    with pytest.raises(TypeError):
        trim_messages("not a list")


def test_counts_must_be_sane_ints():
    msgs = [{"role": "user", "content": "hi"}]
    with pytest.raises(ValueError, match="max_messages"):
        trim_messages(msgs, max_messages=-1)
    with pytest.raises(ValueError, match="max_tokens"):
        trim_messages(msgs, strategy="token", max_tokens=10 ** 40)
    with pytest.raises(TypeError, match="max_tokens"):
        trim_messages(msgs, strategy="token", max_tokens="100")
    with pytest.raises(ValueError, match="strategy"):
        trim_messages(msgs, strategy="middle")
    with pytest.raises(ValueError, match="max_tokens"):
        trim_messages(msgs, strategy="token")


def test_choice_errors_quote_the_bad_value():
    # PyErr_Format has no %.*s: these messages once printed '%.*s'.
    from agentmem.tiers import HierarchicalMemoryManager
    with pytest.raises(ValueError, match=r"unknown role 'robot'"):
        trim_messages([{"role": "robot", "content": "x"}], max_messages=1)
    with pytest.raises(ValueError, match=r"archive, not 'attic'"):
        HierarchicalMemoryManager().store("x", "y", tier="attic")
