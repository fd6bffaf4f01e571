"""agentmem: fast memory for LLM agents, from Python.

The package speaks the APIs of the five memory chapters agentmem implements
(see ../shared/seeds in the repository), one submodule per document:

- :mod:`agentmem.context`       trim_messages, count_tokens, summarization (001)
- :mod:`agentmem.conversation`  Message, ConversationMemory, MemoryManager (004)
- :mod:`agentmem.store`         MemoryStore, conversation recall (001)
- :mod:`agentmem.compression`   MemoryManager with compression (002)
- :mod:`agentmem.tiers`         HierarchicalMemoryManager (003)
- :mod:`agentmem.react`         ReactMemory, SessionManager, hooks (000)

Everything runs in libagentmem (C, linked into the ``_agentmem`` extension).

Errors: every failure the C library reports raises a subclass of
:class:`agentmem.Error` whose ``str()`` is the C message and whose ``status``
is the C status code. Bad input from Python (wrong types, None, negative or
huge counts, invalid UTF-8) raises ``TypeError`` or ``ValueError``.
"""
import os as _os

from . import _agentmem
from ._agentmem import (  # noqa: F401  (re-exported)
    AuthError,
    BusyError,
    CanceledError,
    Error,
    ExistsError,
    FormatError,
    InvalidArgumentError,
    LimitError,
    NetworkError,
    NoMemoryError,
    NotFoundError,
    ProtocolError,
    StateError,
    StorageError,
    TimedOutError,
    UnsupportedError,
    library_version,
)

__version__ = "0.1.0"

_data = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "data")
# The rank files installed with the package win over the library's own
# search path, so an installed package needs no environment variable.
_agentmem._set_data_dir(_data if _os.path.isdir(_data) else None)

__all__ = [
    "Error", "NoMemoryError", "InvalidArgumentError", "NotFoundError",
    "LimitError", "StorageError", "FormatError", "ExistsError", "BusyError",
    "NetworkError", "AuthError", "ProtocolError", "StateError",
    "UnsupportedError", "TimedOutError", "CanceledError", "library_version",
]
