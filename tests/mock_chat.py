#!/usr/bin/env python3
"""mock_chat.py PORT_FILE -- a tiny OpenAI-compatible chat server for the
CLI test: answers every POST .../chat/completions with a fixed summary and
usage, prints nothing, writes its port to PORT_FILE, exits after 60 s."""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


class H(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(n))
        text = "LLM SUMMARY of %d chars" % len(req["messages"][-1]["content"])
        body = json.dumps({
            "id": "x", "object": "chat.completion", "model": req["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 7}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


srv = HTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1], "w") as f:
    f.write(str(srv.server_address[1]))
threading.Timer(60, srv.shutdown).start()
srv.serve_forever()
