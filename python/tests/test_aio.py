"""agentmem.aio: chat calls on libagentmem's executor, awaited through its
completion descriptor, against a local OpenAI-compatible server (an
in-process stand-in answering /v1/chat/completions)."""
import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import agentmem
from agentmem.aio import AsyncLLM, ChatReply
from agentmem.messages import HumanMessage


class Chat(BaseHTTPRequestHandler):
    requests = []
    delay = 0.0
    status = 200
    lock = threading.Lock()
    inflight = 0
    max_inflight = 0

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(n))
        Chat.requests.append(req)
        with Chat.lock:
            Chat.inflight += 1
            Chat.max_inflight = max(Chat.max_inflight, Chat.inflight)
        time.sleep(Chat.delay)
        with Chat.lock:
            Chat.inflight -= 1
        if Chat.status != 200:
            body = json.dumps({"error": {"message": "nope"}}).encode()
        else:
            last = req["messages"][-1]["content"]
            body = json.dumps({
                "id": "x", "object": "chat.completion", "model": req["model"],
                "choices": [{"index": 0, "finish_reason": "stop", "message": {
                    "role": "assistant", "content": "echo: " + last}}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 2}}
            ).encode()
        try:
            self.send_response(Chat.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client aborted (a cancelled call)

    def log_message(self, *a):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Chat)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    Chat.requests.clear()
    Chat.delay = 0.0
    Chat.status = 200
    Chat.max_inflight = 0
    yield "http://127.0.0.1:%d/v1" % srv.server_address[1]
    srv.shutdown()


def test_await_a_chat_call(server):
    async def main():
        async with AsyncLLM(server, model="local-model", api_key="k") as llm:
            r = await llm.chat([{"role": "user", "content": "hello"},
                                HumanMessage("second")],
                               system="Be brief.", max_tokens=50,
                               temperature=0.5)
            return r
    r = asyncio.run(main())
    assert isinstance(r, ChatReply)
    assert r.text == "echo: second"
    assert (r.input_tokens, r.output_tokens, r.usage_reported) == (11, 2, True)
    assert (r.finish_reason, r.model, r.http_status) == ("stop", "local-model", 200)
    req = Chat.requests[0]
    assert req["model"] == "local-model" and req["max_tokens"] == 50
    assert req["temperature"] == 0.5
    assert req["messages"][0] == {"role": "system", "content": "Be brief."}
    assert [m["role"] for m in req["messages"][1:]] == ["user", "user"]


def test_calls_run_on_c_workers_and_the_loop_stays_free(server):
    Chat.delay = 0.3

    async def main():
        ticks = 0
        stop = False

        async def ticker():
            nonlocal ticks
            while not stop:
                ticks += 1
                await asyncio.sleep(0.01)
        with AsyncLLM(server, model="m", threads=4) as llm:
            t = asyncio.ensure_future(ticker())
            start = time.monotonic()
            rs = await asyncio.gather(*[
                llm.chat([{"role": "user", "content": "q%d" % i}])
                for i in range(4)])
            took = time.monotonic() - start
            stop = True
            await t
        return rs, took, ticks
    rs, took, ticks = asyncio.run(main())
    assert sorted(r.text for r in rs) == ["echo: q%d" % i for i in range(4)]
    # The four 0.3 s calls were in flight together (C workers), and the
    # loop ran meanwhile (timings are loose: the machine may be loaded).
    assert Chat.max_inflight >= 2
    assert took < 4 * 0.3 + 2.0
    assert ticks >= 5
    assert threading.active_count() < 10  # no Python thread per call


def test_cancelling_the_task_cancels_the_call(server):
    Chat.delay = 5.0

    async def main():
        with AsyncLLM(server, model="m") as llm:
            task = asyncio.ensure_future(
                llm.chat([{"role": "user", "content": "slow"}]))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # The next call still works (the reader was re-armed).
            Chat.delay = 0.0
            return await llm.chat([{"role": "user", "content": "fast"}])
    start = time.monotonic()
    r = asyncio.run(main())
    assert r.text == "echo: fast"
    assert time.monotonic() - start < 4.5  # the 5 s call was aborted


def test_errors_arrive_as_exceptions(server):
    async def call(url, **kw):
        with AsyncLLM(url, model="m", **kw) as llm:
            return await llm.chat([{"role": "user", "content": "x"}])
    Chat.status = 401
    with pytest.raises(agentmem.AuthError):
        asyncio.run(call(server, api_key="bad"))
    Chat.status = 400
    with pytest.raises(agentmem.Error, match="400"):
        asyncio.run(call(server))
    # Nothing listens on this port.
    with pytest.raises(agentmem.NetworkError):
        asyncio.run(call("http://127.0.0.1:9/v1"))


def test_submit_and_wait_without_asyncio(server):
    Chat.delay = 0.3
    with AsyncLLM(server, model="m", threads=1, max_queued=1) as llm:
        a = llm.submit([{"role": "user", "content": "one"}])
        with pytest.raises(agentmem.StateError, match="not finished"):
            a.result()
        for _ in range(500):  # until the worker has taken it
            if Chat.requests:
                break
            time.sleep(0.01)
        b = llm.submit([{"role": "user", "content": "two"}])  # queued
        with pytest.raises(agentmem.LimitError):
            llm.submit([{"role": "user", "content": "three"}])
        assert b.cancel() is True  # still queued: never runs
        assert a.wait(5) and a.done()
        assert a.result().text == "echo: one"
        assert a.cancel() is False  # already finished
        with pytest.raises(agentmem.CanceledError):
            b.result()
    assert len(Chat.requests) == 1


def test_bad_input():
    with pytest.raises(agentmem.InvalidArgumentError, match="base"):
        AsyncLLM("ftp://example.com", model="m")
    with AsyncLLM("http://127.0.0.1:9/v1", model="m") as llm:
        with pytest.raises(TypeError):
            llm.submit("not a list")
        with pytest.raises(ValueError, match="nothing to send"):
            llm.submit([])
        with pytest.raises(ValueError, match="temperature"):
            llm.submit([{"role": "user", "content": "x"}], temperature=3)
        with pytest.raises(ValueError, match="max_tokens"):
            llm.submit([{"role": "user", "content": "x"}], max_tokens=-1)
        with pytest.raises(ValueError, match="role"):
            llm.submit([{"role": "wizard", "content": "x"}])
    with pytest.raises(ValueError, match="closed"):
        llm.submit([{"role": "user", "content": "x"}])
    with pytest.raises(ValueError, match="threads"):
        AsyncLLM("http://127.0.0.1:9/v1", model="m", threads=-1)
