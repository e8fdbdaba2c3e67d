import Foundation
import ProcessTestSupport
import Testing

/// `hello serve --metrics-bind`, scraped by Prometheus' Python client, single process and
/// under `--workers`: counts equal the requests sent, per route and status, and never go back
/// across a killed worker, a `--max-requests` recycle and a HUP.
@Suite struct MetricsEndpointTests {
    static let executable = builtExecutable("hello")

    struct Sample: Decodable {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    struct Scrape: Decodable {
        let contentType: String
        let samples: [Sample]

        /// The value of the sample named `name` whose labels include `labels`; summed if several.
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            let matching = self.samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
            return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
        }

        func requests(_ method: String, _ route: String, _ status: Int) -> Double {
            self.value(
                "http_server_request_duration_seconds_count",
                ["http_request_method": method, "http_route": route, "http_response_status_code": String(status)]
            ) ?? 0
        }

        var totalRequests: Double { self.value("http_server_request_duration_seconds_count") ?? 0 }
    }

    /// `hello serve` with metrics on a port of their own; returns it and the metrics' URL.
    static func start(_ arguments: [String]) throws -> (ServerProcess, String) {
        let server = try ServerProcess(
            Self.executable,
            ["serve", "--bind", "127.0.0.1:0", "--metrics-bind", "127.0.0.1:0", "--log-level", "info"] + arguments
        )
        let pattern = #"metrics on (http://127\.0\.0\.1:\d+/metrics)"#
        guard server.waitForOutput(pattern, timeout: 10), let range = server.output.range(of: pattern, options: .regularExpression) else {
            throw ServerDidNotStart(output: server.output)
        }
        return (server, String(server.output[range].dropFirst("metrics on ".count)))
    }

    static func scrape(_ url: String) throws -> Scrape {
        try JSONDecoder().decode(Scrape.self, from: Data(try runClientScript("scrape_metrics.py", [url]).utf8))
    }

    /// Scrapes until `done` holds (the workers report with their heartbeats), at most `timeout` seconds.
    static func scrape(_ url: String, timeout: TimeInterval = 10, until done: (Scrape) -> Bool) throws -> Scrape {
        let deadline = Date().addingTimeInterval(timeout)
        var last = try Self.scrape(url)
        while !done(last), Date() < deadline {
            usleep(200_000)
            last = try Self.scrape(url)
        }
        return last
    }

    /// A TCP connection to 127.0.0.1:`port` that has sent `text` (left open until closed).
    static func connect(_ port: Int, sending text: String) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        _ = text.withCString { send(fd, $0, strlen($0), 0) }
        return fd
    }

    static func get(_ port: Int, _ path: String, count: Int = 1, method: String = "GET") throws {
        let url = "http://127.0.0.1:\(port)\(path)"
        // One curl, `count` requests on one keep-alive connection.
        _ = try curl(["-s", "-o", "/dev/null", "-X", method] + Array(repeating: url, count: count))
    }

    @Test func aSingleProcessCountsEachRequestByRouteAndStatus() throws {
        let (server, metrics) = try Self.start([])
        try Self.get(server.port, "/plaintext", count: 5)
        try Self.get(server.port, "/json", count: 3)
        try Self.get(server.port, "/io?ms=abc", count: 2)
        try Self.get(server.port, "/no/such/path/\(UUID())", count: 4)
        try Self.get(server.port, "/metrics")  // the app's address does not serve them
        try Self.get(server.port, "/plaintext", method: "DELETE")
        try Self.get(server.port, "/plaintext", method: "PURGE")
        let scrape = try Self.scrape(metrics)
        #expect(scrape.contentType.hasPrefix("text/plain; version=0.0.4"))
        #expect(scrape.requests("GET", "/plaintext", 200) == 5)
        #expect(scrape.requests("GET", "/json", 200) == 3)
        #expect(scrape.requests("GET", "/io", 400) == 2)
        // Random paths share one route label, so a scan cannot make series.
        #expect(scrape.requests("GET", "unmatched", 404) == 5)
        #expect(scrape.requests("DELETE", "unmatched", 405) == 1)
        #expect(scrape.requests("_OTHER", "unmatched", 405) == 1)
        #expect(scrape.totalRequests == 17)
        #expect(!scrape.samples.contains { $0.labels["http_route"]?.hasPrefix("/no/") == true })
        #expect(scrape.value("http_server_active_requests") == 0)
        #expect(scrape.value("http_server_open_connections") == 0)
        // The histogram's buckets are OpenTelemetry's, and every request is in +Inf.
        #expect(scrape.value("http_server_request_duration_seconds_bucket", ["http_route": "/plaintext", "le": "+Inf"]) == 5)
        #expect(scrape.value("http_server_request_duration_seconds_bucket", ["http_route": "/plaintext", "le": "0.075"]) != nil)
        // The metrics port serves only /metrics.
        let other = metrics.replacingOccurrences(of: "/metrics", with: "/plaintext")
        #expect(try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", other]) == "404")
    }

    @Test func openStreamsAndWebSocketsAndConnectionsAreGauges() throws {
        let (server, metrics) = try Self.start([])
        let sse = try Self.connect(server.port, sending: "GET /sse HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        var closed = false
        defer { if !closed { close(sse) } }
        let open = try Self.scrape(metrics) { $0.value("http_server_open_sse_streams") == 1 }
        #expect(open.value("http_server_open_sse_streams") == 1)
        #expect(open.value("http_server_active_requests") == 1)
        #expect(open.value("http_server_open_connections") == 1)
        #expect(open.value("http_server_open_websockets") == 0)
        close(sse)
        closed = true
        let after = try Self.scrape(metrics) {
            $0.value("http_server_open_sse_streams") == 0 && $0.value("http_server_open_connections") == 0
        }
        #expect(after.value("http_server_open_sse_streams") == 0)
        #expect(after.value("http_server_open_connections") == 0)
        #expect(after.requests("GET", "/sse", 200) == 1)
        // A relayed WebSocket is counted while its session lasts, after its handler has returned.
        let ws = try Self.connect(
            server.port,
            sending: "GET /ws-relay HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        let relaying = try Self.scrape(metrics) { $0.value("http_server_open_websockets") == 1 }
        #expect(relaying.value("http_server_open_websockets") == 1)
        usleep(300_000)  // the handler has long returned: the session, and the count, go on
        #expect(try Self.scrape(metrics).value("http_server_open_websockets") == 1)
        close(ws)
        let gone = try Self.scrape(metrics) { $0.value("http_server_open_websockets") == 0 }
        #expect(gone.value("http_server_open_websockets") == 0)
    }

    @Test func metricsBindMustNotBeTheAppsAddress() throws {
        let (status, output) = try runProcess(
            Self.executable.path,
            ["serve", "--bind", "127.0.0.1:8431", "--metrics-bind", "127.0.0.1:8431"]
        )
        #expect(status != 0)
        #expect(output.contains("never served on the app's own address"), "\(output)")
    }

    @Test func theMasterSumsItsWorkersAcrossAKillARecycleAndAReload() throws {
        // A heartbeat every 0.5 s (a quarter of the timeout); a worker recycles after 40 requests.
        let (server, metrics) = try Self.start(["--workers", "2", "--timeout", "2", "--max-requests", "40"])
        #expect(server.waitForOutput(#"(?s)is serving.*is serving"#, timeout: 20))
        try Self.get(server.port, "/plaintext", count: 30)
        try Self.get(server.port, "/json", count: 10)
        // The 40th request may recycle the worker that served it (one worker can take every
        // connection from the shared socket): wait until its replacement reports too.
        var scrape = try Self.scrape(metrics) { scrape in
            scrape.totalRequests >= 40 && scrape.value("carafe_workers") == 2
                && scrape.samples.filter { $0.name == "carafe_worker_resident_memory_bytes" && $0.value > 1_000_000 }.count == 2
        }
        #expect(scrape.requests("GET", "/plaintext", 200) == 30)
        #expect(scrape.requests("GET", "/json", 200) == 10)
        #expect(scrape.value("carafe_workers") == 2)
        #expect(scrape.value("carafe_worker_heartbeat_age_seconds").map { $0 < 4 } == true)
        #expect(scrape.samples.filter { $0.name == "carafe_worker_resident_memory_bytes" && $0.value > 1_000_000 }.count == 2)

        // A SIGKILLed worker: what it reported stays.
        let victim = childPIDs(of: server.pid).first!
        kill(victim, SIGKILL)
        scrape = try Self.scrape(metrics) { $0.value("carafe_worker_restarts_total", ["cause": "crash"]) == 1 }
        #expect(scrape.value("carafe_worker_restarts_total", ["cause": "crash"]) == 1)
        #expect(scrape.requests("GET", "/plaintext", 200) == 30)
        #expect(server.waitForOutput(#"(?s)(is serving.*){3}"#, timeout: 20))

        // Recycles (--max-requests): 100 more requests, over several workers' lives.
        for _ in 0..<10 { try Self.get(server.port, "/plaintext", count: 10) }
        scrape = try Self.scrape(metrics, timeout: 20) { $0.requests("GET", "/plaintext", 200) >= 130 }
        #expect(scrape.requests("GET", "/plaintext", 200) == 130)
        #expect((scrape.value("carafe_worker_restarts_total", ["cause": "max_requests"]) ?? 0) >= 1)

        // A reload: two new workers replace the old ones, and the counts carry on.
        kill(server.pid, SIGHUP)
        scrape = try Self.scrape(metrics, timeout: 20) { ($0.value("carafe_worker_restarts_total", ["cause": "reload"]) ?? 0) >= 2 }
        #expect((scrape.value("carafe_worker_restarts_total", ["cause": "reload"]) ?? 0) >= 2)
        #expect(scrape.value("carafe_reloads_total") == 1)
        #expect(scrape.value("carafe_reload_duration_seconds").map { $0 > 0 && $0 < 20 } == true)
        #expect(scrape.requests("GET", "/plaintext", 200) == 130)
        try Self.get(server.port, "/json", count: 5)
        scrape = try Self.scrape(metrics) { $0.requests("GET", "/json", 200) >= 15 }
        #expect(scrape.requests("GET", "/json", 200) == 15)
        #expect(scrape.totalRequests == 145)
        kill(server.pid, SIGTERM)
        #expect(server.waitForExit(timeout: 20))
    }

    @Test func theMasterAnswersWhileItsOnlyWorkerIsStuck() async throws {
        let (server, metrics) = try Self.start(["--workers", "1", "--event-loops", "1", "--timeout", "10"])
        #expect(server.waitForOutput("is serving", timeout: 20))
        let port = server.port
        let blocked = Task.detached { try Self.get(port, "/block?ms=3000") }
        #expect(waitForConnections(1, port: port), "the blocking request is not in flight")
        let started = Date()
        let scrape = try Self.scrape(metrics)
        #expect(Date().timeIntervalSince(started) < 2)
        #expect(scrape.value("carafe_workers") == 1)
        try await blocked.value
        let after = try Self.scrape(metrics) { $0.requests("GET", "/block", 200) == 1 }
        #expect(after.requests("GET", "/block", 200) == 1)
    }
}
