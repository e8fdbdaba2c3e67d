import Carafe
import Foundation
import NIOCore
import Testing

@testable import CarafeHTTP

/// #19's findings that were made over a socket with a client that does not play along, checked
/// the same way: one that sends and never reads (pings, pipelined requests), one that opens
/// more connections than the cap, and requests for another host.
@Suite struct HostileClientTests {
    /// The resident memory of this process (the server runs in it), in bytes.
    static func residentBytes() -> Int {
        let fields = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8))?.split(separator: " ") ?? []
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    @Test func aPingFloodFromAClientThatNeverReadsDoesNotGrowTheServersMemory() async throws {
        try await withTestServer(responder: WebSocketTests.echo) { server in
            let connection = try await RawHTTPConnection.connect(to: server.address, timeout: 1)
            _ = try await connection.openWebSocket()
            let before = Self.residentBytes()
            // 100 pings of 125 bytes a send, up to 48 MiB (the finding: 24 MiB of pings took the
            // server's RSS from 26 to 98 MB), reading nothing; a send that waits a second for room
            // means the server stopped reading.
            let batch = (0..<100).flatMap { _ in RawFrame.ping(String(repeating: "p", count: 125)).encoded() }
            var sent = 0
            while sent < 4000 {
                do { try await connection.send(batch) } catch RawHTTPError.timedOut { break }
                sent += 1
            }
            try await Task.sleep(for: .milliseconds(500))
            let grown = Self.residentBytes() - before
            #expect(grown < 24 << 20, "memory grew by \(grown >> 20) MiB for \(sent * batch.count >> 20) MiB of pings")
            // The connection still works once the client reads: pongs, then the echo.
            var pongs = 0
            while pongs < 1 {
                if try await connection.readFrame().opcode == 0xA { pongs += 1 }
            }
            #expect(pongs == 1)
            connection.closeWithReset()
        }
    }

    @Test func pipelinedRequestsFromAClientThatNeverReadsAreNotAllAnswered() async throws {
        let answered = Box(0)
        let app = App()
        let large = String(repeating: "x", count: 256 * 1024)
        app.get("/large") { _ in
            answered.update { $0 += 1 }
            return large
        }
        try await withTestServer(responder: app) { server in
            let connection = try await RawHTTPConnection.connect(to: server.address, timeout: 1)
            // 2,000 pipelined requests for 256 KiB each (500 MiB of answers) and no read.
            let requests = String(repeating: rawRequest("GET", "/large"), count: 100)
            for _ in 0..<20 {
                do { try await connection.send(requests) } catch RawHTTPError.timedOut { break }
            }
            try await Task.sleep(for: .seconds(1))
            let ahead = answered.value
            // The socket's buffers hold a few MiB: the server stops reading requests it cannot send.
            #expect(ahead < 200, "\(ahead) requests answered into a socket nobody reads")
            try await Task.sleep(for: .milliseconds(500))
            #expect(answered.value == ahead, "answering went on while the client read nothing")
            // Reading resumes the pipeline, in order.
            let first = try await connection.readResponse()
            #expect(first.status == 200 && first.body.count == large.utf8.count)
            connection.closeWithReset()
        }
    }

    @Test func aSingleProcessServerCapsItsConnections() async throws {
        let app = App()
        app.get("/") { _ in "home" }
        try await withTestServer(responder: app, configure: { $0.maxConnections = 2 }) { server in
            let first = try await server.connect()
            let second = try await server.connect()
            try await first.send(rawRequest("GET", "/"))
            #expect(try await first.readResponse().bodyText == "home")
            try await second.send(rawRequest("GET", "/"))
            #expect(try await second.readResponse().bodyText == "home")
            // Both slots taken: a third connection is not served until one closes.
            let waiting = try await curl(["-s", "--max-time", "1", server.baseURL + "/"])
            #expect(waiting.exitCode == 28, "timed out, not served: \(waiting.output)")
            first.close()
            let served = try await curl(["-s", "--max-time", "5", server.baseURL + "/"])
            #expect(served.output == "home")
        }
    }

    @Test func pastTheThreadPoolsQueueARequestIsRefusedAtOnceWith503OverASocket() async throws {
        let app = App()
        app.blockingThreads = 1
        app.threadQueueLimit = 1
        let release = DispatchSemaphore(value: 0)
        let entered = Box(0)
        app.get("/work", blocking: true) { _ in
            entered.update { $0 += 1 }
            release.wait()
            return "done"
        }
        try await withTestServer(responder: app) { server in
            // One request takes the only thread, one waits in the queue.
            let running = try await server.connect()
            try await running.send(rawRequest("GET", "/work"))
            #expect(await eventually { entered.value == 1 })
            let queued = try await server.connect()
            try await queued.send(rawRequest("GET", "/work"))
            try await Task.sleep(for: .milliseconds(200))
            // The next is refused at once, not queued behind them.
            let started = ContinuousClock.now
            let refused = try await curl(["-s", "-D", "-", server.baseURL + "/work"])
            #expect(ContinuousClock.now - started < .seconds(2))
            #expect(refused.output.hasPrefix("HTTP/1.1 503"))
            #expect(refused.output.lowercased().contains("retry-after:"))
            #expect(refused.output.contains("--thread-queue-limit"))
            release.signal()
            release.signal()
            #expect(try await running.readResponse().bodyText == "done")
            #expect(try await queued.readResponse().bodyText == "done")
        }
    }

    /// Found by the Multipart fuzz target: a part header whose name is not ASCII trapped in
    /// NIO's `HTTPHeaders` and stopped the whole process.
    @Test func aMultipartPartHeaderNameThatIsNotASCIIIsA400AndTheServerServesOn() async throws {
        let app = App()
        app.post("/form") { req in req.form["a"] ?? "-" }
        try await withTestServer(responder: app) { server in
            let connection = try await server.connect()
            let body =
                Array("--XyZ\r\nContent-Dis".utf8) + [0x9A, 0x90] + Array("position: form-data; name=\"a\"\r\n\r\nx\r\n--XyZ--\r\n".utf8)
            let head =
                "POST /form HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: \(body.count)\r\n\r\n"
            try await connection.send(Array(head.utf8) + body)
            let refused = try await connection.readResponse()
            #expect(refused.status == 400)
            #expect(refused.bodyText.contains("a header name of part 1 has a character that is not allowed in a header name"))
            let ok = try await curl(["-s", "-F", "a=served on", server.baseURL + "/form"])
            #expect(ok.output == "served on")
        }
    }

    /// A finding: user input in an app's log message could start a forged log line.
    @Test func userInputInTheAppsLogCannotForgeALineOverASocket() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-forge-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try LogFile(path: path, kind: "error log")
        let app = App()
        app.logger = Logger(label: "carafe") { FileLogHandler(label: $0, file: file) }
        app.get("/login") { req in
            req.logger.warning("no user \(req.query["name"] ?? "-")")
            return "logged"
        }
        try await withTestServer(responder: app) { server in
            // A name with a newline and what looks like the next line of the log.
            let forged = "ann%0A2026-12-02T00:00:00%2B0000%20notice%20carafe:%20admin%20logged%20in%0D%1B%5B2J"
            let result = try await curl(["-s", server.baseURL + "/login?name=" + forged])
            #expect(result.output == "logged")
        }
        let lines = (try String(contentsOfFile: path, encoding: .utf8)).split(separator: "\n").filter {
            $0.contains("no user") || $0.contains("admin logged in")
        }
        #expect(lines.count == 1, "\(lines)")
        #expect(
            lines.first?.contains("no user ann\\x0a2026-12-02T00:00:00+0000 notice carafe: admin logged in\\x0d\\x1b[2J") == true,
            "\(lines)"
        )
        #expect(lines.first?.contains("\u{1B}") == false)
    }

    @Test func anotherHostIs400AndHTMLCannotBeFramedOverASocket() async throws {
        let app = App()
        app.allowedHosts = try AllowedHosts(parsing: "example.com")
        app.get("/link", name: "link") { req in try req.url(for: "link", external: true) }
        app.get("/page") { _ in Response(text: "<form></form>", contentType: "text/html; charset=utf-8") }
        try await withTestServer(responder: app) { server in
            let good = try await curl(["-s", "-H", "Host: example.com", server.baseURL + "/link"])
            #expect(good.output == "http://example.com/link")
            let evil = try await curl(["-s", "-w", " %{http_code}", "-H", "Host: evil.example", server.baseURL + "/link"])
            #expect(evil.output.contains("'evil.example' is not allowed"))
            #expect(evil.output.hasSuffix(" 400"))
            #expect(!evil.output.contains("http://evil.example"))
            let page = try await curl(["-s", "-D", "-", "-o", "/dev/null", "-H", "Host: example.com", server.baseURL + "/page"])
            let head = page.output.lowercased()
            #expect(head.contains("x-content-type-options: nosniff"))
            #expect(head.contains("x-frame-options: sameorigin"))
            #expect(head.contains("content-security-policy: frame-ancestors 'self'"))
        }
    }
}
