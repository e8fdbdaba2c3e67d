import Foundation
import ProcessTestSupport
import Testing

/// hello in headless Chromium (`Tests/Clients/uploads_cors_browser.py`), over real sockets: a
/// file chosen in an `<input type=file>` and submitted by the browser's form reaches
/// `/multipart` whole, and CORS lets an allowed origin's pages fetch while the browser blocks
/// another origin's.
@Suite struct HelloBrowserTests {
    struct FileSent: Decodable, Equatable {
        let filename: String
        let size: Int
        let sha256: String
    }

    struct Part: Decodable {
        let name: String
        let filename: String?
        let size: Int
        let sha256: String
    }

    struct Fetched: Decodable {
        let status: Int?
        let body: String?
        let error: String?
    }

    struct Origin: Decodable {
        let origin: String
        let get: Fetched
        let post: Fetched
    }

    struct Shown: Decodable {
        let sent: FileSent
        let chosen: String
        let received: [Part]
        let allowed: Origin
        let refused: Origin
    }

    @Test func fileInputSubmitAndCrossOriginFetches() throws {
        let pagePort = freePort()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("hello-browser-\(UUID()).log")
        defer { try? FileManager.default.removeItem(at: log) }
        var environment = ProcessInfo.processInfo.environment
        environment["CORS_ORIGINS"] = #"["http://127.0.0.1:\#(pagePort)"]"#
        let server = try ServerProcess(
            HelloCommandLineTests.executable,
            ["serve", "--bind", "127.0.0.1:0", "--log-level", "info", "--access-logfile", log.path],
            environment: environment
        )
        let printed = try runClientScript("uploads_cors_browser.py", ["http://127.0.0.1:\(server.port)", String(pagePort)])
        let shown = try JSONDecoder().decode(Shown.self, from: Data(printed.utf8))

        // The server hashed the file as it arrived: its name, size and sha256 are the file's.
        #expect(shown.chosen == "holiday photo.jpg")
        #expect(shown.received.map(\.name) == ["caption", "photo"])
        let photo = try #require(shown.received.last)
        #expect(FileSent(filename: photo.filename ?? "", size: photo.size, sha256: photo.sha256) == shown.sent)

        #expect(shown.allowed.origin == "http://127.0.0.1:\(pagePort)")
        #expect(shown.allowed.get.status == 200)
        #expect(shown.allowed.get.body == #"{"message":"Hello, World!"}"#)
        #expect(shown.allowed.post.status == 200, "the preflight let the JSON POST through: \(shown.allowed.post)")
        #expect(shown.allowed.post.body == "0", "no /sse subscriber")

        // Another origin (localhost, not 127.0.0.1): the page's JavaScript sees only a failed fetch.
        #expect(shown.refused.origin == "http://localhost:\(pagePort)")
        #expect(shown.refused.get.status == nil)
        #expect(shown.refused.get.error == "TypeError: Failed to fetch")
        #expect(shown.refused.post.error == "TypeError: Failed to fetch")

        // The browser sent the refused origin's GET (and hid the answer) but not its POST: the
        // preflight's answer had no Access-Control-Allow-Origin.
        kill(server.pid, SIGTERM)
        server.process.waitUntilExit()
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.filter { $0.contains("\"OPTIONS /publish ") }.count == 2, "\(lines)")
        #expect(lines.filter { $0.contains("\"POST /publish ") }.count == 1, "\(lines)")
        #expect(lines.filter { $0.contains("\"GET /json ") }.count == 2, "\(lines)")
        #expect(lines.filter { $0.contains("\"POST /multipart ") }.count == 1, "\(lines)")
    }
}
