"""An OTLP/HTTP receiver for the tests: what an OpenTelemetry collector's `otlp` receiver does on
port 4318, decoding the protobuf with OpenTelemetry's own message definitions
(the `opentelemetry-proto` package), so the tests check what a real collector would read.

Usage: otlp_receiver.py OUT.jsonl
Prints `listening on PORT` (127.0.0.1, a free port), then appends one JSON object a line to
OUT.jsonl for every span (POST /v1/traces) and every metric (POST /v1/metrics) received:

  {"signal": "span", "name": ..., "trace_id": hex, "span_id": hex, "parent_span_id": hex or "",
   "kind": "SPAN_KIND_SERVER", "status": "STATUS_CODE_UNSET", "attributes": {...}, "resource": {...}}
  {"signal": "metric", "name": ..., "points": N, "resource": {...}}

Anything else (another path, a body that is not an OTLP protobuf) gets 404 / 400 and a line
{"signal": "rejected", ...}, so a test sees a malformed export too. Runs until killed.
"""
import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

OUT = sys.argv[1]
lock = threading.Lock()


def value(any_value):
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value(kv.value) for kv in any_value.kvlist_value.values}
    if kind == "bytes_value":
        return any_value.bytes_value.hex()
    return getattr(any_value, kind)


def attributes(pairs):
    return {kv.key: value(kv.value) for kv in pairs}


def write(records):
    with lock, open(OUT, "a") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reject(self, status, why):
        write([{"signal": "rejected", "path": self.path, "why": why, "content_type": self.headers.get("Content-Type")}])
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/x-protobuf":
            return self.reject(415, "not application/x-protobuf")
        try:
            if self.path == "/v1/traces":
                request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                response = trace_service_pb2.ExportTraceServiceResponse()
                records = []
                for resource_spans in request.resource_spans:
                    resource = attributes(resource_spans.resource.attributes)
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            records.append({
                                "signal": "span",
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                                "kind": trace_pb2.Span.SpanKind.Name(span.kind),
                                "status": trace_pb2.Status.StatusCode.Name(span.status.code),
                                "start": span.start_time_unix_nano,
                                "end": span.end_time_unix_nano,
                                "attributes": attributes(span.attributes),
                                "resource": resource,
                            })
            elif self.path == "/v1/metrics":
                request = metrics_service_pb2.ExportMetricsServiceRequest.FromString(body)
                response = metrics_service_pb2.ExportMetricsServiceResponse()
                records = []
                for resource_metrics in request.resource_metrics:
                    resource = attributes(resource_metrics.resource.attributes)
                    for scope_metrics in resource_metrics.scope_metrics:
                        for metric in scope_metrics.metrics:
                            data = getattr(metric, metric.WhichOneof("data")) if metric.WhichOneof("data") else None
                            points = [
                                {"attributes": attributes(p.attributes), "count": getattr(p, "count", None)}
                                for p in (data.data_points if data is not None else [])
                            ]
                            records.append({"signal": "metric", "name": metric.name, "type": metric.WhichOneof("data"),
                                            "points": points, "resource": resource})
            else:
                return self.reject(404, "unknown path")
        except DecodeError as error:
            return self.reject(400, f"not an OTLP protobuf: {error}")
        write(records)
        payload = response.SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on {server.server_address[1]}", flush=True)
server.serve_forever()
