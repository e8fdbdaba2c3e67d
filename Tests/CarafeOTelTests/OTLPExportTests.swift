import Foundation
import ProcessTestSupport
import Testing

/// `traced serve --otlp-endpoint` (CarafeOTel, swift-otel's OTLP/HTTP exporter) against a real
/// OTLP/HTTP receiver (`Tests/Clients/otlp_receiver.py`, decoding the protobuf with
/// OpenTelemetry's own `opentelemetry-proto`): the request's server span, joined to the trace of
/// the `traceparent` a trusted peer sent, and its database statement as a child span.
@Suite(.serialized) struct OTLPExportTests {
    static let executable = builtExecutable("traced")

    /// What the receiver decoded: a span or a metric.
    struct Record: Decodable {
        let signal: String
        let name: String?
        let trace_id: String?
        let span_id: String?
        let parent_span_id: String?
        let kind: String?
        let status: String?
        let attributes: [String: AttributeValue]?
        let resource: [String: AttributeValue]?
        let why: String?
    }

    enum AttributeValue: Decodable, Equatable, CustomStringConvertible {
        case string(String), int(Int), double(Double), bool(Bool), other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Int.self) {
                self = .int(value)
            } else if let value = try? container.decode(Double.self) {
                self = .double(value)
            } else if let value = try? container.decode(String.self) {
                self = .string(value)
            } else {
                self = .other
            }
        }

        var description: String {
            switch self {
            case .string(let value): value
            case .int(let value): "\(value)"
            case .double(let value): "\(value)"
            case .bool(let value): "\(value)"
            case .other: "?"
            }
        }
    }

    /// The receiver, on a free port, appending what it decodes to a file.
    final class Receiver {
        let process = Process()
        let output = PipeCollector()
        let file: URL
        private(set) var port = 0

        init() throws {
            self.file = try makeTemporaryDirectory("otlp").appendingPathComponent("received.jsonl")
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Clients/otlp_receiver.py").path
            self.process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            self.process.arguments = ["python3", script, self.file.path]
            self.process.standardOutput = self.output.pipe
            self.process.standardError = self.output.pipe
            try self.process.run()
            let found = eventually(timeout: 20) { self.output.text.contains("listening on ") }
            guard found, let line = self.output.text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }),
                let port = Int(line.dropFirst("listening on ".count))
            else {
                self.process.terminate()
                throw ServerDidNotStart(output: self.output.text)
            }
            self.port = port
        }

        deinit {
            if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
        }

        var endpoint: String { "http://127.0.0.1:\(self.port)" }

        var records: [Record] {
            guard let text = try? String(contentsOf: self.file, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Record.self, from: Data($0.utf8)) }
        }

        var spans: [Record] { self.records.filter { $0.signal == "span" } }

        /// Waits until `condition` holds for what was received; false after `timeout` seconds.
        func wait(timeout: TimeInterval = 15, until condition: ([Record]) -> Bool) -> Bool {
            eventually(timeout: timeout) { condition(self.records) }
        }
    }

    static func hex(_ count: Int) -> String {
        String((0..<count).map { _ in "0123456789abcdef".randomElement()! })
    }

    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("OTEL_") { environment[key] = nil }
        environment["DATABASE_URL"] = "sqlite::memory:"
        return environment.merging(extra) { $1 }
    }

    @Test func aRequestSpanJoinsTheCallersTraceAndHasItsQueryAsAChild() throws {
        let receiver = try Receiver()
        let server = try ServerProcess(
            Self.executable,
            ["serve", "--bind", "127.0.0.1:0", "--otlp-endpoint", receiver.endpoint, "--log-level", "info"],
            environment: Self.environment()
        )
        let traceID = Self.hex(32)
        let parentID = Self.hex(16)
        let body = try curl(["-H", "traceparent: 00-\(traceID)-\(parentID)-01", "http://127.0.0.1:\(server.port)/users/1"])
        #expect(body.contains("\"ada\""))
        // Stopping sends what the batch processor still holds (its delay is 5 s by default).
        kill(server.pid, SIGTERM)
        #expect(server.waitForExit(timeout: 20))
        #expect(server.process.terminationStatus == 0)
        #expect(receiver.wait { $0.contains { $0.name == "SELECT" } }, "received: \(receiver.records)\nlog: \(server.output)")

        let spans = receiver.spans
        let request = try #require(spans.first { $0.name == "GET /users/:id" }, "spans: \(spans.map(\.name))")
        #expect(request.kind == "SPAN_KIND_SERVER")
        #expect(request.trace_id == traceID)
        #expect(request.parent_span_id == parentID)
        #expect(request.attributes?["http.route"] == .string("/users/:id"))
        #expect(request.attributes?["http.request.method"] == .string("GET"))
        #expect(request.attributes?["url.path"] == .string("/users/1"))
        #expect(request.attributes?["http.response.status_code"] == .int(200))
        #expect(request.resource?["service.name"] == .string("traced"))
        #expect(request.resource?["process.pid"] == .string("\(server.pid)"))

        let query = try #require(spans.first { $0.name == "SELECT" })
        #expect(query.kind == "SPAN_KIND_CLIENT")
        #expect(query.trace_id == traceID)
        #expect(query.parent_span_id == request.span_id)
        #expect(query.attributes?["db.system.name"] == .string("sqlite"))
        #expect(query.attributes?["db.query.text"] == .string("SELECT id, name FROM users WHERE id = ?"))
        #expect(receiver.records.allSatisfy { $0.signal != "rejected" }, "\(receiver.records.filter { $0.signal == "rejected" })")
    }

    /// OpenTelemetry's own variables start it without the flag; under `--workers` each worker
    /// exports its spans (with its number as a resource attribute) and its metrics.
    @Test func theEnvironmentAloneExportsFromEachWorkerWithMetrics() throws {
        let receiver = try Receiver()
        let server = try ServerProcess(
            Self.executable,
            ["serve", "--bind", "127.0.0.1:0", "--workers", "2", "--log-level", "info"],
            environment: Self.environment([
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "checkout",
                "OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_METRIC_EXPORT_INTERVAL": "500",
            ])
        )
        #expect(server.waitForOutput("worker 2 .* serving on", timeout: 20))
        for _ in 0..<6 { _ = try curl(["http://127.0.0.1:\(server.port)/users/2"]) }
        _ = try curl(["http://127.0.0.1:\(server.port)/users/99"])  // 404 from the handler
        // Exported while serving: the batch delay is 200 ms here.
        #expect(receiver.wait { records in records.filter { $0.name == "GET /users/:id" }.count >= 7 }, "\(receiver.records)")
        #expect(
            receiver.wait { records in
                records.contains { $0.signal == "metric" && $0.name == "http_server_request_duration_seconds" }
            },
            "\(receiver.records.filter { $0.signal == "metric" }.map(\.name))"
        )
        let requests = receiver.spans.filter { $0.name == "GET /users/:id" }
        #expect(requests.allSatisfy { $0.resource?["service.name"] == .string("checkout") })
        let workers = Set(requests.compactMap { $0.resource?["carafe.worker"]?.description })
        #expect(!workers.isEmpty && workers.isSubset(of: ["1", "2"]), "\(workers)")
        #expect(requests.contains { $0.attributes?["http.response.status_code"] == .int(404) })
        // Each request is a trace of its own (no traceparent was sent).
        #expect(Set(requests.compactMap(\.trace_id)).count == requests.count)
        #expect(requests.allSatisfy { $0.parent_span_id == "" })
        kill(server.pid, SIGTERM)
        #expect(server.waitForExit(timeout: 20))
    }

    /// A `traceparent` from a peer outside `--forwarded-allow-ips`, or a malformed one, is not
    /// joined: the request starts a trace of its own.
    @Test func anUntrustedOrMalformedTraceparentStartsANewTrace() throws {
        let receiver = try Receiver()
        let server = try ServerProcess(
            Self.executable,
            ["serve", "--bind", "127.0.0.1:0", "--otlp-endpoint", receiver.endpoint, "--forwarded-allow-ips", "10.9.9.9"],
            environment: Self.environment(["OTEL_BSP_SCHEDULE_DELAY": "100"])
        )
        let traceID = Self.hex(32)
        _ = try curl(["-H", "traceparent: 00-\(traceID)-\(Self.hex(16))-01", "http://127.0.0.1:\(server.port)/users/1"])
        kill(server.pid, SIGTERM)
        #expect(server.waitForExit(timeout: 20))
        let trusting = try ServerProcess(
            Self.executable,
            ["serve", "--bind", "127.0.0.1:0", "--otlp-endpoint", receiver.endpoint],
            environment: Self.environment(["OTEL_BSP_SCHEDULE_DELAY": "100"])
        )
        _ = try curl(["-H", "traceparent: 00-\(traceID.uppercased())-\(Self.hex(16))-01", "http://127.0.0.1:\(trusting.port)/users/1"])
        _ = try curl(["-H", "traceparent: 00-\(String(repeating: "0", count: 32))-\(Self.hex(16))-01", "http://127.0.0.1:\(trusting.port)/users/1"])
        kill(trusting.pid, SIGTERM)
        #expect(trusting.waitForExit(timeout: 20))
        #expect(receiver.wait { $0.filter { $0.name == "GET /users/:id" }.count == 3 }, "\(receiver.records)")
        let requests = receiver.spans.filter { $0.name == "GET /users/:id" }
        #expect(requests.allSatisfy { $0.parent_span_id == "" && $0.trace_id != traceID && $0.trace_id != traceID.uppercased() })
        #expect(requests.allSatisfy { $0.trace_id != String(repeating: "0", count: 32) })
    }

    /// A collector that is down costs the app nothing but log lines: requests are answered and
    /// the process still stops when told.
    @Test func aCollectorThatIsDownDoesNotHoldRequestsOrTheStop() throws {
        let closedPort = freePort()
        let server = try ServerProcess(
            Self.executable,
            ["serve", "--bind", "127.0.0.1:0", "--otlp-endpoint", "http://127.0.0.1:\(closedPort)"],
            environment: Self.environment(["OTEL_BSP_SCHEDULE_DELAY": "100"])
        )
        let started = Date()
        for _ in 0..<20 {
            let status = try curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(server.port)/users/1"])
            #expect(status == "200")
        }
        #expect(Date().timeIntervalSince(started) < 10)
        // The stop waits for the last spans at most OTLPExporter's shutdownTimeout (5 s).
        let stopping = Date()
        kill(server.pid, SIGTERM)
        #expect(server.waitForExit(timeout: 20), "\(server.output)")
        #expect(Date().timeIntervalSince(stopping) < 12)
        #expect(server.process.terminationStatus == 0)
    }

    /// Bad values stop the start with a message naming the flag; an app with no exporter says
    /// what to add.
    @Test func badEndpointsAndAnAppWithoutAnExporterStopTheStart() throws {
        for bad in ["not a url", "ftp://127.0.0.1:4318", "http://"] {
            let (status, output) = try runProcess(
                Self.executable.path,
                ["serve", "--bind", "127.0.0.1:0", "--otlp-endpoint", bad],
                environment: Self.environment()
            )
            #expect(status != 0)
            #expect(output.contains("--otlp-endpoint \(bad): not an http:// or https:// URL"), "\(output)")
        }
        // gRPC is not built in: a clear error, not swift-otel's fatal error.
        let (grpcStatus, grpcOutput) = try runProcess(
            Self.executable.path,
            ["serve", "--bind", "127.0.0.1:0", "--otlp-endpoint", "http://127.0.0.1:4317"],
            environment: Self.environment(["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"])
        )
        #expect(grpcStatus == 1)
        #expect(grpcOutput.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc: this build exports over OTLP/HTTP only"), "\(grpcOutput)")
        for arguments in [["serve"], ["serve", "--workers", "2"]] {
            let (status, output) = try runProcess(
                builtExecutable("hello").path,
                arguments + ["--bind", "127.0.0.1:0", "--otlp-endpoint", "http://127.0.0.1:4318"],
                environment: Self.environment()
            )
            #expect(status != 0)
            #expect(output.contains("this app has no telemetry exporter; add CarafeOTel"), "\(output)")
        }
        // OTel's variable alone, on an app without an exporter: no error (the app may bootstrap
        // swift-otel itself), it serves.
        let server = try ServerProcess(
            builtExecutable("hello"),
            ["serve", "--bind", "127.0.0.1:0"],
            environment: Self.environment(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"])
        )
        #expect(try curl(["http://127.0.0.1:\(server.port)/plaintext"]).contains("Hello"))
    }
}
