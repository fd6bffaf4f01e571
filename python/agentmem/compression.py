"""Automatic compression of long agent contexts (seed 002, ``memory``):
:class:`MemoryConfig` with its presets, :class:`CompressionStrategy`,
:class:`MemoryManager` and :class:`ShortTermMemory`, over libagentmem's
memory manager (window.h): exact token counts for the configured model,
compression past the threshold (sliding_window, selective or deletion) by
the offline summarizer or an OpenAI-compatible server, and statistics.

Thread safety: calls on one MemoryManager are serialized by a lock.
"""
from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, List, Optional

from . import _agentmem

__all__ = ["CompressionStrategy", "MemoryConfig", "MemoryManager",
           "ShortTermMemory"]


class CompressionStrategy(Enum):
    SLIDING_WINDOW = "sliding_window"
    SELECTIVE = "selective"
    DELETION = "deletion"


@dataclass
class MemoryConfig:
    """The manager's settings (the "balanced" preset by default). ``model``
    is what the context is counted (exactly, for OpenAI models) and priced
    for; "estimate" counts 4 bytes a token."""
    max_context_tokens: int = 100000
    compression_threshold: int = 40000
    short_term_size: int = 20
    compression_ratio: float = 0.3
    compression_strategy: CompressionStrategy = CompressionStrategy.SLIDING_WINDOW
    enable_compression: bool = True
    preserve_system_prompts: bool = True
    preserve_tool_calls: bool = True
    model: str = "gpt-4o-mini"

    @classmethod
    def aggressive(cls, **kw: Any) -> "MemoryConfig":
        return cls(compression_threshold=30000, compression_ratio=0.2,
                   short_term_size=10, **kw)

    @classmethod
    def balanced(cls, **kw: Any) -> "MemoryConfig":
        return cls(**kw)

    @classmethod
    def conservative(cls, **kw: Any) -> "MemoryConfig":
        return cls(compression_threshold=60000, compression_ratio=0.5,
                   short_term_size=30,
                   compression_strategy=CompressionStrategy.SELECTIVE, **kw)

    def _settings(self) -> Dict[str, str]:
        strat = self.compression_strategy
        if isinstance(strat, CompressionStrategy):
            strat = strat.value
        def b(x: bool) -> str:
            return "true" if x else "false"
        return {"MEMORY_ENABLED": b(self.enable_compression),
                "MEMORY_MAX_CONTEXT_TOKENS": str(self.max_context_tokens),
                "MEMORY_COMPRESSION_THRESHOLD": str(self.compression_threshold),
                "MEMORY_SHORT_TERM_SIZE": str(self.short_term_size),
                "MEMORY_COMPRESSION_RATIO": repr(float(self.compression_ratio)),
                "MEMORY_COMPRESSION_STRATEGY": str(strat),
                "MEMORY_PRESERVE_SYSTEM_PROMPTS": b(self.preserve_system_prompts),
                "MEMORY_PRESERVE_TOOL_CALLS": b(self.preserve_tool_calls),
                "MEMORY_MODEL": self.model}


class ShortTermMemory:
    """The newest ``max_size`` messages."""

    def __init__(self, max_size: int = 20):
        if not isinstance(max_size, int) or max_size <= 0:
            raise ValueError("max_size must be a positive int")
        self.max_size = max_size
        self._items: deque = deque(maxlen=max_size)

    def add(self, message: Any) -> None:
        self._items.append(message)

    def get_all(self) -> List[Any]:
        return list(self._items)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class MemoryManager:
    """Add messages one by one; past ``compression_threshold`` tokens the
    old part of the context is compressed into a summary.

    ``llm``: None (the offline extractive summarizer) or an
    OpenAI-compatible base URL (str). Errors: ValueError/TypeError for bad
    settings or messages (the C message names the field),
    :class:`agentmem.NetworkError` and friends for server failures.
    """

    def __init__(self, config: Optional[MemoryConfig] = None,
                 llm: Optional[str] = None, *, llm_model: Optional[str] = None,
                 api_key: Optional[str] = None):
        if llm is not None and not isinstance(llm, str):
            raise TypeError("llm must be an OpenAI-compatible base URL (str) "
                            "or None")
        self.config = config or MemoryConfig()
        self._m = _agentmem._Memory(self.config._settings(), llm, llm_model,
                                    api_key)
        self.short_term = ShortTermMemory(max(1, self.config.short_term_size))

    def add_message(self, message: Any,
                    actual_tokens: Optional[Dict[str, int]] = None) -> bool:
        """Add one message (dict, agentmem Message or LangChain-style);
        ``actual_tokens`` {"input", "output"} as the provider reported
        them calibrates the counts and prices the call. True when this
        add compressed."""
        self.short_term.add(message)
        if actual_tokens:
            return self._m.add(message, int(actual_tokens.get("input", -1)),
                               int(actual_tokens.get("output", -1)))
        return self._m.add(message)

    async def aadd_message(self, message: Any,
                           actual_tokens: Optional[Dict[str, int]] = None) -> bool:
        return await asyncio.to_thread(self.add_message, message, actual_tokens)

    def get_context_for_llm(self) -> List[Dict[str, Any]]:
        """The context to send: system messages, the summary, the kept
        messages (OpenAI-style dicts)."""
        return self._m.context()

    def compress(self) -> None:
        """Compress now, whatever the threshold."""
        self._m.compress()

    def get_stats(self) -> Dict[str, Any]:
        """current_tokens, total_tokens, compression_count, net_savings,
        savings_percentage, total_cost, net_cost, ... (the C library's
        statistics)."""
        return self._m.stats()

    def print_stats(self) -> None:
        """Print the "Memory Statistics" block."""
        print(self._m.stats_text())
