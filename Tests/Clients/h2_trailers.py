"""Trailers over HTTP/2 with Python's `h2` (prior-knowledge h2c), as a gRPC client sends them.

Usage: h2_trailers.py PORT
1. GET /trailers?chunks=3: the DATA, then a HEADERS frame with END_STREAM (the trailers).
2. POST /trailers: HEADERS, DATA (the body), then HEADERS with END_STREAM carrying
   `x-checksum` (the body's sha256) and `grpc-status: 0`.
3. POST /trailers with 120 trailer fields (over the server's 100).
Prints one JSON object: {"get": {"status", "headers", "body_sha256", "trailers",
"trailers_after_data", "end_stream_on_trailers"}, "post": {"status", "body"}, "many": {"status", "body"}}.
"""
import hashlib
import json
import socket
import sys

import h2.config
import h2.connection
import h2.events

port = int(sys.argv[1])
sock = socket.create_connection(("127.0.0.1", port), timeout=10)
conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
conn.initiate_connection()
sock.sendall(conn.data_to_send())


def run(stream_id):
    """Reads until `stream_id` ends; returns what it got, in order."""
    result = {"headers": None, "data": b"", "trailers": None, "order": [], "end_stream_on_trailers": False}
    done = False
    while not done:
        data = sock.recv(65536)
        if not data:
            raise SystemExit("connection closed")
        for event in conn.receive_data(data):
            if getattr(event, "stream_id", None) != stream_id:
                continue
            if isinstance(event, h2.events.ResponseReceived):
                result["headers"] = dict(event.headers)
                result["order"].append("headers")
            elif isinstance(event, h2.events.DataReceived):
                result["data"] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
                result["order"].append("data")
            elif isinstance(event, h2.events.TrailersReceived):
                result["trailers"] = dict(event.headers)
                result["end_stream_on_trailers"] = event.stream_ended is not None
                result["order"].append("trailers")
            elif isinstance(event, h2.events.StreamEnded):
                done = True
            elif isinstance(event, h2.events.StreamReset):
                raise SystemExit(f"stream reset: {event.error_code}")
        sock.sendall(conn.data_to_send())
    return result


authority = f"127.0.0.1:{port}"
get_id = conn.get_next_available_stream_id()
conn.send_headers(get_id, [(":method", "GET"), (":path", "/trailers?chunks=3"), (":scheme", "http"), (":authority", authority)],
                  end_stream=True)
sock.sendall(conn.data_to_send())
got = run(get_id)
order = got["order"]
report = {"get": {
    "status": got["headers"][":status"],
    "headers": got["headers"],
    "body_sha256": hashlib.sha256(got["data"]).hexdigest(),
    "body_size": len(got["data"]),
    "trailers": got["trailers"],
    "trailers_after_data": "trailers" in order and "data" in order and order.index("trailers") > max(i for i, e in enumerate(order) if e == "data"),
    "end_stream_on_trailers": got["end_stream_on_trailers"],
}}

body = b"x" * 5000 + b"end"
post_id = conn.get_next_available_stream_id()
conn.send_headers(post_id, [(":method", "POST"), (":path", "/trailers"), (":scheme", "http"), (":authority", authority),
                            ("content-type", "application/octet-stream"), ("te", "trailers")])
conn.send_data(post_id, body)
conn.send_headers(post_id, [("x-checksum", hashlib.sha256(body).hexdigest()), ("grpc-status", "0")], end_stream=True)
sock.sendall(conn.data_to_send())
got = run(post_id)
report["post"] = {"status": got["headers"][":status"], "body": json.loads(got["data"])}
# 120 trailer fields: under the header list size, over the 100 fields a head may have.
many_id = conn.get_next_available_stream_id()
conn.send_headers(many_id, [(":method", "POST"), (":path", "/trailers"), (":scheme", "http"), (":authority", authority)])
conn.send_data(many_id, b"abc")
conn.send_headers(many_id, [(f"x-t{i}", "1") for i in range(120)], end_stream=True)
sock.sendall(conn.data_to_send())
got = run(many_id)
report["many"] = {"status": got["headers"][":status"], "body": got["data"].decode()}
conn.close_connection()
sock.sendall(conn.data_to_send())
sock.close()
print(json.dumps(report))
