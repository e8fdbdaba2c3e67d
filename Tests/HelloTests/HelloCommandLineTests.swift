import Foundation
import Testing

/// The `hello` example run as a process, the way a user runs it: `routes`, `serve` with an
/// access log, graceful shutdown on SIGTERM, and bad arguments.
@Suite struct HelloCommandLineTests {
    /// `hello` beside the test bundle in the build folder.
    static let executable = URL(fileURLWithPath: CommandLine.arguments[0])
        .deletingLastPathComponent().appendingPathComponent("hello")

    /// A running `hello serve`, with its port read from its own startup line.
    final class Server {
        let process = Process()
        let stderr = Pipe()
        let port: Int

        init(_ arguments: [String]) throws {
            self.process.executableURL = HelloCommandLineTests.executable
            self.process.arguments = ["serve", "--bind", "127.0.0.1:0", "--log-level", "info"] + arguments
            self.process.standardError = self.stderr
            self.process.standardOutput = FileHandle.nullDevice
            try self.process.run()
            var seen = ""
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                let chunk = self.stderr.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                seen += String(decoding: chunk, as: UTF8.self)
                if let range = seen.range(of: #"serving on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                    self.port = Int(seen[range].split(separator: ":").last!)!
                    return
                }
            }
            self.process.terminate()
            throw ServerDidNotStart(output: seen)
        }

        deinit {
            if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
        }
    }

    struct ServerDidNotStart: Error { let output: String }

    /// Runs a command to the end and returns its exit status and standard output.
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func curl(_ arguments: [String]) throws -> String {
        try run("/usr/bin/curl", ["-s", "--max-time", "10"] + arguments).output
    }

    @Test func routesCommandPrintsTheTable() throws {
        let (status, output) = try Self.run(Self.executable.path, ["routes"])
        #expect(status == 0)
        let lines = output.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines == ["METHOD PATH NAME", "GET /plaintext", "GET /json", "GET /io"])
    }

    @Test func servesTheBenchmarkEndpointsAndLogsEachRequest() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("hello-access-\(UUID()).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let server = try Server(["--access-logfile", log.path])
        let base = "http://127.0.0.1:\(server.port)"
        #expect(try Self.curl(["\(base)/plaintext"]) == "Hello, World!")
        #expect(try Self.curl(["\(base)/json"]) == #"{"message":"Hello, World!"}"#)
        #expect(try Self.curl(["\(base)/io?ms=5"]) == "ok")
        #expect(try Self.curl(["-o", "/dev/null", "-w", "%{http_code}", "\(base)/io?ms=abc"]) == "400")
        kill(server.process.processIdentifier, SIGTERM)
        server.process.waitUntilExit()
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4)
        let combined = #"^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET /plaintext HTTP/1\.1" 200 13 "-" "curl/[^"]+"$"#
        #expect(lines.first.map { $0.range(of: combined, options: .regularExpression) != nil } == true, "\(lines)")
        #expect(lines.last?.contains(#""GET /io?ms=abc HTTP/1.1" 400"#) == true)
    }

    @Test func sigtermLetsTheRequestInFlightFinishThenExitsZero() async throws {
        let server = try Server([])
        let url = "http://127.0.0.1:\(server.port)/io?ms=1500"
        async let slow = Task.detached { try Self.curl(["-i", url]) }.value
        try await Task.sleep(for: .milliseconds(400))
        kill(server.process.processIdentifier, SIGTERM)
        try await Task.sleep(for: .milliseconds(200))
        // Stopped accepting: a new connection is refused while the slow request still runs.
        let refused = try Self.run("/usr/bin/curl", ["-s", "--max-time", "2", "http://127.0.0.1:\(server.port)/plaintext"])
        #expect(refused.status == 7, "curl exit 7 means the connection was refused")
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
