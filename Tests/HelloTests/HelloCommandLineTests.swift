import Foundation
import ProcessTestSupport
import Testing

/// The `hello` example run as a process, the way a user runs it: `routes`, `serve` with an
/// access log, graceful shutdown on SIGTERM, and bad arguments.
@Suite struct HelloCommandLineTests {
    /// `hello` beside the test bundle in the build folder.
    static let executable = builtExecutable("hello")

    /// A running `hello serve`, with its port read from its own startup line.
    static func startServer(_ arguments: [String]) throws -> ServerProcess {
        try ServerProcess(Self.executable, ["serve", "--bind", "127.0.0.1:0", "--log-level", "info"] + arguments)
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        try runProcess(executable, arguments)
    }

    static func curl(_ arguments: [String]) throws -> String {
        try ProcessTestSupport.curl(arguments)
    }

    @Test func routesCommandPrintsTheTable() throws {
        let (status, output) = try Self.run(Self.executable.path, ["routes"])
        #expect(status == 0)
        let lines = output.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.first == "worker class: async (routes that do not say blocking: run on the event loop)")
        #expect(
            Array(lines.dropFirst()) == [
                "METHOD PATH NAME RUNS ON", "GET /plaintext event loop", "GET /json event loop", "GET /io event loop",
                "GET /stream event loop",
                "POST /upload event loop", "POST /trailers event loop", "GET /trailers event loop", "POST /multipart event loop", "GET /text event loop", "GET /sse event loop",
                "POST /publish event loop", "GET /ws event loop", "GET /ws-relay event loop",
                "GET /block blocks-the-loop-on-purpose event loop",
            ]
        )
    }

    @Test func servesTheBenchmarkEndpointsAndLogsEachRequest() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("hello-access-\(UUID()).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let server = try Self.startServer(["--access-logfile", log.path])
        let base = "http://127.0.0.1:\(server.port)"
        #expect(try Self.curl(["\(base)/plaintext"]) == "Hello, World!")
        #expect(try Self.curl(["\(base)/json"]) == #"{"message":"Hello, World!"}"#)
        #expect(try Self.curl(["\(base)/io?ms=5"]) == "ok")
        #expect(try Self.curl(["-o", "/dev/null", "-w", "%{http_code}", "\(base)/io?ms=abc"]) == "400")
        #expect(try Self.curl(["-o", "/dev/null", "-w", "%{size_download}", "\(base)/stream?bytes=200000"]) == "200000")
        kill(server.process.processIdentifier, SIGTERM)
        server.process.waitUntilExit()
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5)
        let combined =
            #"^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET /plaintext HTTP/1\.1" 200 13 "-" "curl/[^"]+"$"#
        #expect(lines.first.map { $0.range(of: combined, options: .regularExpression) != nil } == true, "\(lines)")
        #expect(lines[3].contains(#""GET /io?ms=abc HTTP/1.1" 400"#))
        // A streamed body is logged with the bytes it really wrote.
        #expect(lines[4].contains(#""GET /stream?bytes=200000 HTTP/1.1" 200 200000 "#))
    }

    @Test func sigtermLetsTheRequestInFlightFinishThenExitsZero() async throws {
        let server = try Self.startServer([])
        let url = "http://127.0.0.1:\(server.port)/io?ms=3000"
        async let slow = Task.detached { try Self.curl(["-i", url]) }.value
        // The request accepted and in flight (`waitForConnections` sees the server's side of it).
        #expect(waitForConnections(1, port: server.port), "the slow request is not in flight")
        kill(server.process.processIdentifier, SIGTERM)
        // Stopped accepting: a new connection is refused while the slow request still runs
        // (curl exit 7), within a bounded wait for the signal to be handled.
        let refused = eventually(timeout: 2) {
            (try? Self.run("/usr/bin/curl", ["-s", "--max-time", "2", "http://127.0.0.1:\(server.port)/plaintext"]).status) == 7
        }
        #expect(refused, "curl exit 7 means the connection was refused")
        let response = try await slow
        #expect(response.hasPrefix("HTTP/1.1 200 OK"))
        #expect(response.lowercased().contains("connection: close"))
        #expect(response.hasSuffix("ok"))
        server.process.waitUntilExit()
        #expect(server.process.terminationReason == .exit)
        #expect(server.process.terminationStatus == 0)
    }

    @Test func aBadBindAddressIsAClearError() throws {
        let (status, output) = try Self.run(Self.executable.path, ["serve", "--bind", "127.0.0.1:99999"])
        #expect(status != 0)
        #expect(output.contains("invalid bind address '127.0.0.1:99999'"), "\(output)")
    }

    @Test func anUnknownOptionPrintsUsage() throws {
        let (status, output) = try Self.run(Self.executable.path, ["serve", "--no-such-option"])
        #expect(status != 0)
        #expect(output.contains("Unknown option '--no-such-option'"), "\(output)")
        #expect(output.contains("Usage:"))
    }
}
