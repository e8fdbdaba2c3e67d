import Foundation
import ProcessTestSupport
import Testing

/// hello's CORS policy (https://app.example) and compression, over a real socket with curl.
@Suite struct HelloCORSCompressionTests {
    static func headers(_ output: String) -> [String: String] {
        var headers: [String: String] = [:]
        for line in output.split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased(), value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { $0 + ", " + value } ?? value
        }
        return headers
    }

    @Test func preflightsAndSimpleRequests() throws {
        let server = try HelloCommandLineTests.startServer([])
        let base = "http://127.0.0.1:\(server.port)"
        for path in ["/multipart", "/no-such-route"] {
            let preflight = try curl([
                "-s", "-D", "-", "-o", "/dev/null", "-X", "OPTIONS", "-H", "Origin: https://app.example",
                "-H", "Access-Control-Request-Method: POST", "-H", "Access-Control-Request-Headers: content-type", base + path,
            ])
            #expect(preflight.hasPrefix("HTTP/1.1 204"), "\(path): \(preflight)")
            let headers = Self.headers(preflight)
            #expect(headers["access-control-allow-origin"] == "https://app.example")
            #expect(headers["access-control-allow-headers"] == "Content-Type")
            #expect(headers["access-control-allow-credentials"] == nil)
        }
        let simple = Self.headers(try curl(["-s", "-D", "-", "-o", "/dev/null", "-H", "Origin: https://app.example", base + "/json"]))
        #expect(simple["access-control-allow-origin"] == "https://app.example")
        #expect(simple["vary"]?.contains("Origin") == true)
        let other = Self.headers(try curl(["-s", "-D", "-", "-o", "/dev/null", "-H", "Origin: https://evil.example", base + "/json"]))
        #expect(other["access-control-allow-origin"] == nil)
    }

    @Test func curlCompressedGetsGzipAndTheSameBytes() throws {
        let server = try HelloCommandLineTests.startServer([])
        let url = "http://127.0.0.1:\(server.port)/text?bytes=100000"
        let compressed = try curl(["--compressed", "-w", "\n%{size_download}", url])
        let (text, size) = (
            compressed.split(separator: "\n").dropLast().joined(separator: "\n"), Int(compressed.split(separator: "\n").last ?? "") ?? 0
        )
        #expect(text.utf8.count == 100_000)
        #expect(text.hasPrefix("The quick brown fox jumps over the lazy dog. The quick"))
        #expect(size > 0 && size < 5_000, "\(size) bytes on the wire")
        let head = Self.headers(try curl(["-s", "-D", "-", "-o", "/dev/null", "-H", "Accept-Encoding: gzip", url]))
        #expect(head["content-encoding"] == "gzip")
        #expect(head["vary"]?.contains("Accept-Encoding") == true)
        let identity = Self.headers(try curl(["-s", "-D", "-", "-o", "/dev/null", url]))
        #expect(identity["content-encoding"] == nil)
        #expect(identity["content-length"] == "100000")
        // A streamed body of unknown type (application/octet-stream) is not compressed.
        let stream = Self.headers(
            try curl([
                "-s", "-D", "-", "-o", "/dev/null", "-H", "Accept-Encoding: gzip", "http://127.0.0.1:\(server.port)/stream?bytes=1000",
            ])
        )
        #expect(stream["content-encoding"] == nil)
    }

    @Test func compressedEventsArriveAtOnce() throws {
        let server = try HelloCommandLineTests.startServer([])
        let process = Process()
        let output = PipeCollector()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "-N", "--compressed", "-D", "/dev/stderr", "--max-time", "30", "http://127.0.0.1:\(server.port)/sse"]
        process.standardOutput = output.pipe
        let errors = PipeCollector()
        process.standardError = errors.pipe
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        #expect(eventually(timeout: 10) { output.text.hasPrefix(": hello\n\n") }, "\(output.text)")
        #expect(errors.text.lowercased().contains("content-encoding: gzip"), "\(errors.text)")
        #expect(
            eventually(timeout: 10) {
                (try? curl(["--data-binary", "compressed event", "http://127.0.0.1:\(server.port)/publish"])) == "1"
            }
        )
        // No more writes follow: only a flush per write can have delivered it.
        #expect(eventually(timeout: 5) { output.text.hasSuffix("data: compressed event\n\n") }, "\(output.text)")
    }
}
