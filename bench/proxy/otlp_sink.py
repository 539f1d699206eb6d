#!/usr/bin/env python3
"""A tiny OTLP/HTTP collector stand-in for the tracing case of bench/proxy/run.

Accepts POST /v1/traces on 127.0.0.1:PORT, answers 200 with an empty
ExportTraceServiceResponse (zero bytes of protobuf), and keeps the number of
exports and bytes received in COUNT_FILE ("exports bytes"), so the report can
show that spans were really sent. Nothing is decoded: it costs the machine as
little as a collector can.

Usage: otlp_sink.py PORT COUNT_FILE
"""
import http.server
import sys
import threading

PORT = int(sys.argv[1])
COUNT_FILE = sys.argv[2]
lock = threading.Lock()
totals = [0, 0]


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        self.rfile.read(n)
        with lock:
            totals[0] += 1
            totals[1] += n
            with open(COUNT_FILE, "w") as f:
                f.write(f"{totals[0]} {totals[1]}\n")
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self):
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Sink).serve_forever()
