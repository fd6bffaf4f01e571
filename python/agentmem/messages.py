"""LangChain-shaped message classes, for code written against
``langchain_core.messages`` when langchain_core is not installed.

Only what agentmem reads is here: ``type``, ``content``, ``name``, ``id``,
``tool_calls`` (dicts with "name", "args", "id") and ``tool_call_id``.
Every agentmem function also accepts real langchain_core messages.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

__all__ = ["BaseMessage", "SystemMessage", "HumanMessage", "AIMessage",
           "ToolMessage"]


class BaseMessage:
    type = "base"

    def __init__(self, content: Union[str, List[Any]] = "", *,
                 name: Optional[str] = None, id: Optional[str] = None,
                 **kwargs: Any):
        if not isinstance(content, (str, list)):
            raise TypeError("content must be a str or a list of parts")
        self.content = content
        self.name = name
        self.id = id
        self.additional_kwargs: Dict[str, Any] = kwargs

    def __eq__(self, other: Any) -> bool:
        return (type(self) is type(other) and self.content == other.content
                and self.name == other.name)

    def __repr__(self) -> str:
        return "%s(content=%r)" % (type(self).__name__, self.content)


class SystemMessage(BaseMessage):
    type = "system"


class HumanMessage(BaseMessage):
    type = "human"


class AIMessage(BaseMessage):
    type = "ai"

    def __init__(self, content: Union[str, List[Any]] = "", *,
                 tool_calls: Optional[List[Dict[str, Any]]] = None,
                 **kwargs: Any):
        super().__init__(content, **kwargs)
        self.tool_calls = list(tool_calls or [])


class ToolMessage(BaseMessage):
    type = "tool"

    def __init__(self, content: Union[str, List[Any]] = "", *,
                 tool_call_id: str, **kwargs: Any):
        super().__init__(content, **kwargs)
        self.tool_call_id = tool_call_id
