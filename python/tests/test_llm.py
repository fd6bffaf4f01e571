"""LLM-backed summarization against a local OpenAI-compatible server (an
in-process stand-in answering /v1/chat/completions), including seed 001's
summarize sample, which runs unchanged but for its imports once
OPENAI_BASE_URL names the server."""
import ast
import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from agentmem.context import SummarizationMiddleware, summarize_messages
from test_seeds import blocks, rewrite_imports


class Chat(BaseHTTPRequestHandler):
    requests = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(n))
        Chat.requests.append((self.path, req))
        body = json.dumps({
            "id": "x", "object": "chat.completion", "model": req["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": "LLM SUMMARY"}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 3}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def server(monkeypatch):
    srv = HTTPServer(("127.0.0.1", 0), Chat)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    url = "http://127.0.0.1:%d/v1" % srv.server_address[1]
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    Chat.requests.clear()
    yield url
    srv.shutdown()


def history(n):
    return [{"role": "user" if i % 2 == 0 else "assistant",
             "content": "turn %d about the deployment" % i} for i in range(n)]


def test_summarize_through_a_base_url(server):
    r = summarize_messages(history(12), keep_last=4, base_url=server,
                           llm_model="local-model")
    assert r.summary == "LLM SUMMARY"
    path, req = Chat.requests[0]
    assert path == "/v1/chat/completions" and req["model"] == "local-model"


def test_middleware_through_a_base_url(server):
    mw = SummarizationMiddleware(trigger_messages=8, keep_last=2,
                                 base_url=server)
    assert mw.process(history(12)).summary == "LLM SUMMARY"


def test_unreachable_server_is_a_network_error(monkeypatch):
    import agentmem
    with pytest.raises(agentmem.NetworkError):
        summarize_messages(history(12), keep_last=4,
                           base_url="http://127.0.0.1:9/v1")


def test_seed_001_summarize_sample_runs_against_the_server(server, seeds_dir):
    code = blocks("001")
    ns = {}
    exec(compile(rewrite_imports(code[2]), "seed 001 block 2", "exec"), ns)
    # The sample awaits at top level, as in a notebook or `python -m asyncio`.
    src = rewrite_imports(code[4])
    co = compile(src, "seed 001 block 4", "exec",
                 flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    asyncio.run(eval(co, ns))
    # The sample's history is 5 messages and keeps the last 5: nothing to
    # summarize, so it comes back unchanged (and no request is needed).
    assert ns["result"].original_count == len(ns["messages"])
    assert ns["result"].messages == ns["messages"]
    # With a longer history the same call goes to the server.
    r = summarize_messages(ns["messages"] * 4, keep_last=5,
                           llm_provider="openai", llm_model="gpt-4o-mini")
    assert r.summary == "LLM SUMMARY"
    assert Chat.requests[-1][1]["model"] == "gpt-4o-mini"


def test_seed_002_compression_samples_run_against_the_server(server,
                                                             seeds_dir):
    # Blocks 0 (MemoryManager(config, llm)), 2 and 10 (await
    # compressor.compress(...)) with the seed's `llm` being the local
    # server's base URL, which agentmem.compression takes for an LLM; the
    # messages they compress are a plain history.
    code = blocks("002")
    ns = {"llm": server, "old_messages": history(12),
          "messages": history(20)}
    exec(compile(rewrite_imports(code[0]), "seed 002 block 0", "exec"), ns)
    assert ns["memory"].get_stats()["messages"] == 0
    for b in (2, 10):
        co = compile(rewrite_imports(code[b]), "seed 002 block %d" % b,
                     "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        asyncio.run(eval(co, ns))
    assert ns["compressed"].summary.endswith("LLM SUMMARY")
    assert ns["compressed"].original_message_count == 20
    assert len(Chat.requests) == 2  # one summary call per compress
    assert all(p == "/v1/chat/completions" for p, _ in Chat.requests)
